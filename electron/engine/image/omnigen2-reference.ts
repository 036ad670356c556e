// OmniGen2 reference-image resizing (`OmniGen2ImageProcessor.preprocess`, spec §4.3):
//   ratio = min(sqrt(max_pixels / (h*w)), max_side / max(h, w), 1)   (never upscales)
//   new_h = int(h * ratio) // 16 * 16, new_w = int(w * ratio) // 16 * 16
//   Pillow LANCZOS resize to exactly that size (aspect ratio slightly distorted, no crop), /255, *2-1.
import type { HostTensor } from '../runtime/tensor.js';
import { resizeLanczosPillow } from './pillow-lanczos.js';
import { rgbToSignedUnitTensor } from './pixel-tensor.js';
import { ImageInputError, assertRgbImage, describeSource, type RgbImage } from './rgb-image.js';

export interface OmniGen2ResizeLimits {
  /** Largest output area in pixels (pipeline default 1024*1024; the demos pass 1048576 too). */
  readonly maxPixels: number;
  /** Largest output side before rounding to 16 (pipeline default 1024; the demos pass 2048). Omit for no limit. */
  readonly maxSideLength?: number;
}

/** The OmniGen2 pipeline defaults (`inference.py`, UMO eval). */
export const OMNIGEN2_PIPELINE_LIMITS: OmniGen2ResizeLimits = { maxPixels: 1024 * 1024, maxSideLength: 1024 };
/** What OmniGen2's `app.py` and the UMO OmniGen2 demo pass. */
export const OMNIGEN2_DEMO_LIMITS: OmniGen2ResizeLimits = { maxPixels: 1048576, maxSideLength: 2048 };

const VAE_MULTIPLE = 16;

/** Output size for a `width` x `height` reference. Throws if a side would round down to 0. */
export function omnigen2ReferenceSize(
  width: number,
  height: number,
  limits: OmniGen2ResizeLimits,
  source = '<image in memory>',
): { width: number; height: number } {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`omnigen2ReferenceSize: invalid image size ${width}x${height}`);
  }
  const { maxPixels, maxSideLength } = limits;
  if (!(Number.isFinite(maxPixels) && maxPixels > 0)) throw new Error(`omnigen2ReferenceSize: maxPixels must be positive, got ${maxPixels}`);
  if (maxSideLength !== undefined && !(Number.isFinite(maxSideLength) && maxSideLength > 0)) {
    throw new Error(`omnigen2ReferenceSize: maxSideLength must be positive, got ${maxSideLength}`);
  }
  // min(max_side / h, max_side / w) in the reference equals max_side / max(h, w) exactly.
  const sideRatio = maxSideLength === undefined ? 1 : Math.min(maxSideLength / height, maxSideLength / width);
  const pixelRatio = Math.sqrt(maxPixels / (height * width));
  const ratio = Math.min(pixelRatio, sideRatio, 1);
  const newH = Math.floor(Math.trunc(height * ratio) / VAE_MULTIPLE) * VAE_MULTIPLE;
  const newW = Math.floor(Math.trunc(width * ratio) / VAE_MULTIPLE) * VAE_MULTIPLE;
  if (newW < VAE_MULTIPLE || newH < VAE_MULTIPLE) {
    throw new ImageInputError(
      source,
      `is too small or too elongated for an OmniGen2 reference: ${width}x${height} resized by ${ratio.toPrecision(4)} and ` +
        `rounded down to multiples of ${VAE_MULTIPLE} gives ${newW}x${newH}; both sides must reach at least ${VAE_MULTIPLE} pixels`,
    );
  }
  return { width: newW, height: newH };
}

/** Resize on 8-bit pixels (Pillow LANCZOS), no crop. */
export function preprocessOmniGen2Reference(img: RgbImage, limits: OmniGen2ResizeLimits): RgbImage {
  assertRgbImage(img, 'preprocessOmniGen2Reference');
  const size = omnigen2ReferenceSize(img.width, img.height, limits, describeSource(img));
  return {
    width: size.width,
    height: size.height,
    data: resizeLanczosPillow(img.data, img.width, img.height, 3, size.width, size.height),
    source: img.source,
  };
}

/** The VAE input for one OmniGen2 reference: [1, 3, H, W] float32 in [-1, 1]. */
export function omnigen2ReferenceTensor(img: RgbImage, limits: OmniGen2ResizeLimits): HostTensor & { data: Float32Array } {
  return rgbToSignedUnitTensor(preprocessOmniGen2Reference(img, limits));
}
