// Image decoding with sharp (libvips). Decoding runs on libuv's thread pool, so awaiting it
// leaves the JS thread free. Every failure names the file and libvips' reason.
import sharp from 'sharp';
import { DatasetError } from '../errors';
import type { RgbImage } from './types';

/** An image that cannot be decoded (a DatasetError naming the file and libvips' reason). */
export class ImageDecodeError extends DatasetError {
  /**
   * @param file the file that failed ('<buffer>' for encoded bytes)
   * @param reason libvips' message
   * @param argName the argument that held it (e.g. 'images[2]'), when the caller passed one
   */
  constructor(file: string, readonly reason: string, readonly argName?: string) {
    super(`${argName ? `${argName}: ` : ''}cannot decode image ${file}: ${reason}`, file);
    this.name = 'ImageDecodeError';
  }
}

/**
 * Decodes an image file (or encoded bytes) to 8-bit RGB, HWC. EXIF orientation is applied
 * (`rotate()` with no angle), an alpha channel is dropped (not composited:
 * the colour channels are kept as stored), greyscale and CMYK become sRGB, 16-bit becomes 8-bit.
 * `argName` (such as 'images[2]') prefixes the error message; the error's `file` is the path.
 * Truncated or corrupt files are errors, never partial images: `failOn: 'warning'` makes
 * libvips' warnings (such as "premature end of JPEG file") fail too.
 */
export async function decodeImage(input: string | Uint8Array, argName?: string): Promise<RgbImage> {
  const name = typeof input === 'string' ? input : '<buffer>';
  try {
    const { data, info } = await sharp(input, { failOn: 'warning' })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      channels: 3,
    };
  } catch (err) {
    const reason = err instanceof Error ? err.message.trim().replace(/\s+/g, ' ') : String(err);
    throw new ImageDecodeError(name, reason, argName);
  }
}
