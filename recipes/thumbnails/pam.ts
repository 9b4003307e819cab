/** The pixels of a PAM image (Netpbm `P7`), as Orthanc's `/rendered` answers to `Accept: image/x-portable-arbitrarymap`. */
export interface PamImage {
  width: number;
  height: number;
  /** Samples per pixel: 1 (GRAYSCALE), 3 (RGB) or 4 (RGB_ALPHA). */
  channels: 1 | 2 | 3 | 4;
  /** 8-bit samples (16-bit ones are scaled down: a thumbnail needs no more). */
  pixels: Uint8Array;
}

const headerEnd = Buffer.from('ENDHDR\n', 'latin1');

/** Parses a PAM file; throws on anything that is not one with 1 to 4 channels of 8 or 16 bits. */
export function parsePam(file: Buffer): PamImage {
  const end = file.indexOf(headerEnd);
  if (!file.subarray(0, 3).equals(Buffer.from('P7\n')) || end < 0) throw new Error('not a PAM image');
  const fields = new Map<string, string>();
  for (const line of file.subarray(3, end).toString('latin1').split('\n')) {
    const [key, ...value] = line.trim().split(/\s+/);
    if (key && !key.startsWith('#')) fields.set(key, value.join(' '));
  }
  const width = Number(fields.get('WIDTH'));
  const height = Number(fields.get('HEIGHT'));
  const channels = Number(fields.get('DEPTH'));
  const maxValue = Number(fields.get('MAXVAL'));
  if (!(width > 0 && height > 0 && channels >= 1 && channels <= 4 && maxValue > 0 && maxValue <= 65535)) {
    throw new Error(`unsupported PAM header ${JSON.stringify(Object.fromEntries(fields))}`);
  }
  const bytesPerSample = maxValue < 256 ? 1 : 2;
  const length = width * height * channels * bytesPerSample;
  const data = file.subarray(end + headerEnd.length, end + headerEnd.length + length);
  if (data.length !== length) throw new Error(`truncated PAM image: ${data.length} of ${length} bytes`);
  let pixels: Uint8Array = data;
  if (bytesPerSample === 2 || maxValue !== 255) {
    pixels = new Uint8Array(width * height * channels);
    for (let i = 0; i < pixels.length; i += 1) {
      const sample = bytesPerSample === 2 ? data.readUInt16BE(i * 2) : data[i]!;
      pixels[i] = Math.round((Math.min(sample, maxValue) * 255) / maxValue);
    }
  }
  return { width, height, channels: channels as PamImage['channels'], pixels };
}
