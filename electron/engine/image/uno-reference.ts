// UNO reference-image preprocessing (bytedance/UNO `pipeline.preprocess_ref` and its caller), spec §3.1:
//   1. long side L = 512 for a single reference, 320 when there are several;
//   2. scale so the long side is L, short side = int(L / long * short) (truncated), Pillow LANCZOS;
//   3. centre-crop both sides down to multiples of 16, left = (w - tw) // 2, top = (h - th) // 2;
//   4. RGB (the image is already RGB: alpha was handled by load-image);
//   5. to_tensor * 2 - 1 -> [1, 3, H, W] float32.
import type { HostTensor } from '../runtime/tensor.js';
import { loadImageRgb, type LoadImageOptions } from './load-image.js';
import { resizeLanczosPillow } from './pillow-lanczos.js';
import { rgbToSignedUnitTensor } from './pixel-tensor.js';
import { ImageInputError, assertRgbImage, cropRgb, describeSource, type RgbImage } from './rgb-image.js';

export const UNO_SINGLE_REFERENCE_LONG_SIDE = 512;
export const UNO_MULTI_REFERENCE_LONG_SIDE = 320;
const MULTIPLE = 16;

/** The long side UNO uses for each reference: 512 for zero or one reference, 320 for several. */
export function unoReferenceLongSide(referenceCount: number): number {
  if (!Number.isInteger(referenceCount) || referenceCount < 0) {
    throw new Error(`unoReferenceLongSide: reference count must be a non-negative integer, got ${referenceCount}`);
  }
  return referenceCount <= 1 ? UNO_SINGLE_REFERENCE_LONG_SIDE : UNO_MULTI_REFERENCE_LONG_SIDE;
}

export interface UnoReferenceGeometry {
  /** Size after the aspect-preserving resize. */
  readonly resizedWidth: number;
  readonly resizedHeight: number;
  /** The centre crop (multiples of 16) taken from the resized image. */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** Sizes of steps 2–3 for a `width` x `height` input. Throws if a side would end up below 16 pixels. */
export function unoReferenceGeometry(width: number, height: number, longSide: number, source = '<image in memory>'): UnoReferenceGeometry {
  if (!Number.isInteger(longSide) || longSide < MULTIPLE) {
    throw new Error(`unoReferenceGeometry: long side must be an integer >= ${MULTIPLE}, got ${longSide}`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`unoReferenceGeometry: invalid image size ${width}x${height}`);
  }
  // Same float64 expression as the reference: int((long_size / w) * h).
  const resizedWidth = width >= height ? longSide : Math.trunc((longSide / height) * width);
  const resizedHeight = width >= height ? Math.trunc((longSide / width) * height) : longSide;
  const cropW = Math.floor(resizedWidth / MULTIPLE) * MULTIPLE;
  const cropH = Math.floor(resizedHeight / MULTIPLE) * MULTIPLE;
  if (cropW < MULTIPLE || cropH < MULTIPLE) {
    throw new ImageInputError(
      source,
      `is too elongated for a UNO reference: ${width}x${height} scaled to a long side of ${longSide} becomes ` +
        `${resizedWidth}x${resizedHeight}, and both sides must be at least ${MULTIPLE} pixels (aspect ratio up to about ${Math.floor(longSide / MULTIPLE)}:1)`,
    );
  }
  return {
    resizedWidth,
    resizedHeight,
    left: Math.floor((resizedWidth - cropW) / 2),
    top: Math.floor((resizedHeight - cropH) / 2),
    width: cropW,
    height: cropH,
  };
}

/** Steps 2–3 on 8-bit pixels: LANCZOS resize and centre crop. */
export function preprocessUnoReference(img: RgbImage, longSide: number): RgbImage {
  assertRgbImage(img, 'preprocessUnoReference');
  const g = unoReferenceGeometry(img.width, img.height, longSide, describeSource(img));
  const resized: RgbImage = {
    width: g.resizedWidth,
    height: g.resizedHeight,
    data: resizeLanczosPillow(img.data, img.width, img.height, 3, g.resizedWidth, g.resizedHeight),
    source: img.source,
  };
  return cropRgb(resized, g.left, g.top, g.width, g.height);
}

/** The VAE input for one UNO reference: [1, 3, H, W] float32 in [-1, 1]. */
export function unoReferenceTensor(img: RgbImage, longSide: number): HostTensor & { data: Float32Array } {
  return rgbToSignedUnitTensor(preprocessUnoReference(img, longSide));
}

/**
 * Load a reference file and preprocess it for the VAE: `data` holds the [1, 3, H, W] float32 planes in
 * [-1, 1]. Errors name the file (see load-image).
 */
export async function loadUnoReference(
  file: string,
  longSide: number,
  opts: LoadImageOptions = {},
): Promise<{ data: Float32Array; width: number; height: number; shape: readonly number[] }> {
  const t = unoReferenceTensor(await loadImageRgb(file, opts), longSide);
  return { data: t.data, height: t.shape[2], width: t.shape[3], shape: t.shape };
}
