import { describe, expect, test } from 'vitest';
import {
  OMNIGEN2_DEFAULT_NEGATIVE_PROMPT, RequestValidationError, UNO_PARAMS, parseGenerateRequest, snapSize,
} from '../../../shared/backbone-params.js';

describe('generation request schema', () => {
  test('UNO defaults come from the official demos', () => {
    const r = parseGenerateRequest({ backbone: 'uno', prompt: 'a clock on the beach' });
    expect(r).toMatchObject({ width: 768, height: 768, steps: 25, guidance: 4, seed: -1, references: [], lora: { path: null, scale: 1 } });
  });

  test('OmniGen2 defaults include the official negative prompt and scheduler', () => {
    const r = parseGenerateRequest({ backbone: 'omnigen2', prompt: 'x' });
    expect(r).toMatchObject({ width: 1024, height: 1024, steps: 50, textGuidance: 5, imageGuidance: 2, cfgRange: [0, 1], scheduler: 'euler', images: 1, alignRes: true });
    if (r.backbone === 'omnigen2') expect(r.negativePrompt).toBe(OMNIGEN2_DEFAULT_NEGATIVE_PROMPT);
  });

  test('every problem is reported with its field', () => {
    let err: unknown;
    try {
      parseGenerateRequest({ backbone: 'uno', prompt: 'hi', width: 100, steps: 0.5, seed: -3, guidance: 9 });
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(RequestValidationError);
    const problems = (err as RequestValidationError).problems.join('\n');
    expect(problems).toContain('width: Width must be a multiple of 16 (got 100)');
    expect(problems).toContain('steps: Steps must be a whole number');
    expect(problems).toContain('seed: Seed must be at least -1');
    expect(problems).toContain('guidance: Guidance must be at most 5');
  });

  test('unknown backbone and reversed CFG range are refused', () => {
    expect(() => parseGenerateRequest({ backbone: 'sdxl', prompt: 'x' })).toThrow(/backbone/);
    expect(() => parseGenerateRequest({ backbone: 'omnigen2', prompt: 'x', cfgRange: [0.8, 0.2] })).toThrow(/CFG range start must not exceed its end/);
  });

  test('too many references are refused with the limit', () => {
    expect(() => parseGenerateRequest({ backbone: 'omnigen2', prompt: 'x', references: ['a', 'b', 'c', 'd', 'e', 'f'] })).toThrow(/at most 5/);
  });

  test('snapSize clamps and rounds to the step', () => {
    expect(snapSize(770, UNO_PARAMS.width)).toBe(768);
    expect(snapSize(5000, UNO_PARAMS.width)).toBe(2048);
    expect(snapSize(10, UNO_PARAMS.width)).toBe(64);
  });
});

describe('settings patch schema', () => {
  test('a patch keeps only the fields sent (no defaults filled in)', async () => {
    const { SettingsPatchSchema } = await import('../../../shared/settings.js');
    expect(SettingsPatchSchema.parse({ theme: 'dark' })).toEqual({ theme: 'dark' });
    expect(() => SettingsPatchSchema.parse({ theme: 'purple' })).toThrow();
  });
});
