import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { latentIds, packLatent, referenceIds, unpackLatent } from '../../../electron/engine/sampling/uno-tokens.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const dir = path.join(GOLDEN_DIR, 'uno/flux_dit');
const cases = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith('case_')) : [];

describe.each(cases)('UNO packing and ids vs golden %s', (file) => {
  const ck = Checkpoint.open(path.join(dir, file));
  const [, c, h, w] = ck.shape('noise_latent');

  test('noise latent packs to img, and unpacks back', () => {
    const latent = ck.readFloat32('noise_latent');
    const packed = packLatent(latent, c, h, w);
    expect(Array.from(packed)).toEqual(Array.from(ck.readFloat32('img')));
    expect(Array.from(unpackLatent(packed, c, h, w))).toEqual(Array.from(latent));
  });

  test('img_ids and reference ids are exact', () => {
    expect(Array.from(latentIds(h, w))).toEqual(Array.from(ck.readFloat32('img_ids')));
    const refs = ck.keys().filter((k) => k.startsWith('ref_latent.')).sort();
    const sizes = refs.map((k) => ({ height: ck.shape(k)[2], width: ck.shape(k)[3] }));
    const ids = referenceIds({ height: h, width: w }, sizes);
    refs.forEach((k, i) => {
      const idx = k.split('.')[1];
      expect(Array.from(ids[i])).toEqual(Array.from(ck.readFloat32(`ref_img_ids.${idx}`)));
      expect(Array.from(packLatent(ck.readFloat32(k), c, sizes[i].height, sizes[i].width))).toEqual(Array.from(ck.readFloat32(`ref_img.${idx}`)));
    });
  });
});

test('golden cases were found', () => {
  expect(cases.length).toBeGreaterThan(0);
});

test('odd latent sizes are refused with a clear error', () => {
  expect(() => packLatent(new Float32Array(16 * 3 * 4), 16, 3, 4)).toThrow(/not divisible into 2×2 patches/);
});
