/**
 * A small PNG decoder for screenshots in tests: 8-bit greyscale, grey+alpha, RGB or RGBA, not interlaced, with
 * all five row filters (None, Sub, Up, Average, Paeth). Decodes to RGBA bytes, row by row from the top.
 */
import { inflateSync } from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel. */
  rgba: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const toLeft = Math.abs(estimate - left);
  const toUp = Math.abs(estimate - up);
  const toUpLeft = Math.abs(estimate - upLeft);
  if (toLeft <= toUp && toLeft <= toUpLeft) return left;
  return toUp <= toUpLeft ? up : upLeft;
}

export function decodePng(file: Uint8Array): DecodedPng {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (!bytes.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    offset += 12 + length;
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [bitDepth, colourType, , , interlace] = body.subarray(8, 13);
      if (bitDepth !== 8) throw new Error(`PNG bit depth ${bitDepth} is not supported (8 only)`);
      if (CHANNELS[colourType] === undefined) throw new Error(`PNG colour type ${colourType} is not supported (palette images are not)`);
      if (interlace !== 0) throw new Error('interlaced PNG is not supported');
      channels = CHANNELS[colourType];
    } else if (type === 'IDAT') data.push(body);
    else if (type === 'IEND') break;
  }
  if (channels === 0) throw new Error('PNG has no IHDR chunk');
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error(`PNG data too short: ${raw.length} bytes for ${width}×${height}`);
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const source = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = rows.subarray(y * stride, (y + 1) * stride);
    const previous = y === 0 ? new Uint8Array(stride) : rows.subarray((y - 1) * stride, y * stride);
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? row[x - channels] : 0;
      const up = previous[x];
      const upLeft = x >= channels ? previous[x - channels] : 0;
      let predictor: number;
      if (filter === 0) predictor = 0;
      else if (filter === 1) predictor = left;
      else if (filter === 2) predictor = up;
      else if (filter === 3) predictor = (left + up) >> 1;
      else if (filter === 4) predictor = paeth(left, up, upLeft);
      else throw new Error(`PNG row ${y} has unknown filter type ${filter}`);
      row[x] = (source[x] + predictor) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let pixel = 0; pixel < width * height; pixel++) {
    const at = pixel * channels;
    const [r, g, b, a] =
      channels === 1 ? [rows[at], rows[at], rows[at], 255] : channels === 2 ? [rows[at], rows[at], rows[at], rows[at + 1]] : channels === 3 ? [rows[at], rows[at + 1], rows[at + 2], 255] : [rows[at], rows[at + 1], rows[at + 2], rows[at + 3]];
    rgba.set([r, g, b, a], pixel * 4);
  }
  return { width, height, rgba };
}

/** Pixels in the rectangle [left, right) × [top, bottom) within `tolerance` (per channel) of the colour `#rrggbb`. */
export function countColour(image: DecodedPng, hex: string, region = { left: 0, top: 0, right: image.width, bottom: image.height }, tolerance = 10): number {
  const target = [1, 3, 5].map((start) => parseInt(hex.slice(start, start + 2), 16));
  let found = 0;
  for (let y = Math.max(0, region.top); y < Math.min(image.height, region.bottom); y++) {
    for (let x = Math.max(0, region.left); x < Math.min(image.width, region.right); x++) {
      const at = (y * image.width + x) * 4;
      if (Math.abs(image.rgba[at] - target[0]) <= tolerance && Math.abs(image.rgba[at + 1] - target[1]) <= tolerance && Math.abs(image.rgba[at + 2] - target[2]) <= tolerance) found++;
    }
  }
  return found;
}
