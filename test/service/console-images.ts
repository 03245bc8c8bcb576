// The size of a screenshot, read from the header of the image type it claims to be, for the
// Screenshot tests: libvirt's test driver draws a PNG, QEMU gives PNG or PPM (P6) by its version.
import assert from 'node:assert/strict';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height of a PNG (its IHDR chunk, which the format puts first); asserts the signature. */
export function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, 'PNG signature');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR', 'first chunk');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Width and height of a binary PPM (P6, maxval 255); asserts that three bytes per pixel follow the header. */
export function ppmSize(ppm: Buffer): { width: number; height: number } {
  const header = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(ppm.toString('latin1', 0, 64));
  assert.ok(header, `a P6 header: ${JSON.stringify(ppm.toString('latin1', 0, 20))}`);
  const [width, height, maxval] = header.slice(1).map(Number) as [number, number, number];
  assert.equal(maxval, 255);
  assert.equal(ppm.length, header[0].length + width * height * 3, 'three bytes per pixel after the header');
  return { width, height };
}

/** The size of `image` decoded as `mimeType` says (PNG or PPM); fails for any other type. */
export function imageSize(mimeType: string, image: Buffer): { width: number; height: number } {
  if (mimeType === 'image/png') return pngSize(image);
  if (mimeType === 'image/x-portable-pixmap') return ppmSize(image);
  assert.fail(`unexpected image type ${mimeType}`);
}
