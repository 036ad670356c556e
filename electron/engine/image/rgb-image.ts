// The in-memory picture every image module passes around: 8-bit sRGB, 3 interleaved channels,
// rows top to bottom, plus where it came from (for error messages).

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** `width * height * 3` bytes, R G B per pixel, row-major. */
  readonly data: Uint8Array;
  /** File name or other label used in error messages. */
  readonly source?: string;
}

/** An error about a user's image: says which file, what is wrong and, where useful, what is accepted. */
export class ImageInputError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'ImageInputError';
  }
}

export function describeSource(img: Pick<RgbImage, 'source'>): string {
  return img.source ?? '<image in memory>';
}

/** Check that `img` is a consistent RGB image; throws an error naming `where` otherwise. */
export function assertRgbImage(img: RgbImage, where: string): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${where}: image ${describeSource(img)} has invalid size ${width}x${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new Error(
      `${where}: image ${describeSource(img)} has ${data.length} bytes, expected ${width}*${height}*3 = ${width * height * 3} (8-bit RGB)`,
    );
  }
}

/** Copy out the rectangle [left, left+width) x [top, top+height). */
export function cropRgb(img: RgbImage, left: number, top: number, width: number, height: number): RgbImage {
  if (left < 0 || top < 0 || width < 1 || height < 1 || left + width > img.width || top + height > img.height) {
    throw new Error(
      `cropRgb: rectangle ${width}x${height} at (${left},${top}) does not fit inside ${img.width}x${img.height} (${describeSource(img)})`,
    );
  }
  const out = new Uint8Array(width * height * 3);
  const rowBytes = width * 3;
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * 3;
    out.set(img.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { width, height, data: out, source: img.source };
}
