import { describe, expect, it } from 'vitest';
import {
  GenerateRequestSchema, OMNIGEN2_DEFAULT_NEGATIVE_PROMPT, OMNIGEN2_PARAMS, UNO_PARAMS,
} from '../../../shared/backbone-params.js';
import type { GenerationResult } from '../../../shared/engine-protocol.js';
import {
  applyResultParams, buildRequest, defaultForm, formatEta, matchingPreset, moveSlot, normalizeSlots, placementSlots,
  readResultParams, sizeLimits, sizePresets, snapDimension, validateRequest, visibleSlotCount, type SlotImage,
} from '../../../renderer/src/formState.js';

const img = (id: string): SlotImage => ({ id, url: `u:${id}`, path: `/refs/${id}.png`, name: `${id}.png`, width: 64, height: 64 });

describe('defaults and requests', () => {
  it('builds a UNO request that the shared schema accepts, with the official defaults', () => {
    const form = defaultForm();
    form.slots = [img('a'), null, img('b'), null];
    form.prompt = 'a cat';
    const req = buildRequest(form, 'uno', { path: '/l/umo.safetensors', scale: 0.7 });
    const parsed = GenerateRequestSchema.parse(req);
    expect(parsed).toMatchObject({
      backbone: 'uno', prompt: 'a cat', references: ['/refs/a.png', '/refs/b.png'],
      width: 768, height: 768, steps: 25, guidance: 4, seed: -1, lora: { path: '/l/umo.safetensors', scale: 0.7 },
    });
    expect(validateRequest(req, sizeLimits('uno', false))).toEqual([]);
  });

  it('builds an OmniGen2 request with the demo defaults and a fixed seed when random is off', () => {
    const form = { ...defaultForm(), randomSeed: false, seed: 42 };
    const req = buildRequest(form, 'omnigen2', { path: null, scale: 1 });
    expect(GenerateRequestSchema.parse(req)).toMatchObject({
      backbone: 'omnigen2', negativePrompt: OMNIGEN2_DEFAULT_NEGATIVE_PROMPT, width: 1024, height: 1024, steps: 50,
      textGuidance: 5, imageGuidance: 2, cfgRange: [0, 1], scheduler: 'euler', images: 1, maxInputSide: 2048,
      maxPixels: 1048576, alignRes: true, seed: 42, lora: { path: null, scale: 1 },
    });
  });

  it('reports schema problems and sizes below the real-checkpoint minimum', () => {
    const form = defaultForm();
    form.uno = { ...form.uno, width: 770, steps: 0 };
    const problems = validateRequest(buildRequest(form, 'uno', { path: null, scale: 1 }), sizeLimits('uno', false));
    expect(problems).toContain('Width must be a multiple of 16 (got 770)');
    expect(problems).toContain('Steps must be at least 1');
    const small = defaultForm();
    small.uno = { ...small.uno, width: 256 };
    const req = buildRequest(small, 'uno', { path: null, scale: 1 });
    expect(validateRequest(req, sizeLimits('uno', false))).toEqual(['Width must be at least 512 for real checkpoints']);
    expect(validateRequest(req, sizeLimits('uno', true))).toEqual([]);
    const omni = defaultForm();
    omni.omnigen2 = { ...omni.omnigen2, cfgRangeStart: 0.8, cfgRangeEnd: 0.2 };
    expect(validateRequest(buildRequest(omni, 'omnigen2', { path: null, scale: 1 }))).toEqual(['CFG range start must not exceed its end']);
  });
});

describe('sizes', () => {
  it('uses uiMin for real checkpoints and the spec minimum for the demo model', () => {
    expect(sizeLimits('uno', false)).toEqual({ min: UNO_PARAMS.width.uiMin, max: 2048, step: 16 });
    expect(sizeLimits('uno', true)).toEqual({ min: UNO_PARAMS.width.min, max: 2048, step: 16 });
    expect(sizeLimits('omnigen2', false).min).toBe(OMNIGEN2_PARAMS.width.uiMin);
  });

  it('snaps to multiples of 16 inside the limits', () => {
    const lim = sizeLimits('uno', false);
    expect(snapDimension(770, 'uno', lim)).toBe(768);
    expect(snapDimension(777, 'uno', lim)).toBe(784);
    expect(snapDimension(100, 'uno', lim)).toBe(512);
    expect(snapDimension(100, 'uno', sizeLimits('uno', true))).toBe(96);
    expect(snapDimension(5000, 'uno', lim)).toBe(2048);
    expect(snapDimension(Number.NaN, 'uno', lim)).toBe(768);
  });

  it('offers presets for every ratio at about the default area, all valid', () => {
    const lim = sizeLimits('uno', false);
    const presets = sizePresets('uno', lim);
    expect(presets.map((p) => p.ratio)).toEqual(['1:1', '4:3', '3:4', '16:9', '9:16', '3:2', '2:3']);
    expect(presets[0]).toEqual({ ratio: '1:1', width: 768, height: 768 });
    expect(presets.find((p) => p.ratio === '16:9')).toEqual({ ratio: '16:9', width: 1024, height: 576 });
    for (const p of presets) {
      expect(p.width % 16).toBe(0);
      expect(p.height % 16).toBe(0);
      expect(Math.abs((p.width * p.height) / (768 * 768) - 1)).toBeLessThan(0.06);
      const [a, b] = p.ratio.split(':').map(Number);
      expect(Math.abs(p.width / p.height - a / b)).toBeLessThan(0.05);
    }
    expect(sizePresets('omnigen2', sizeLimits('omnigen2', false))[0]).toEqual({ ratio: '1:1', width: 1024, height: 1024 });
    expect(matchingPreset(presets, 1024, 576)?.ratio).toBe('16:9');
    expect(matchingPreset(presets, 1000, 576)).toBeUndefined();
  });
});

describe('reference slots', () => {
  it('pads to the backbone slot count, keeps filled extra slots and drops empty ones', () => {
    expect(normalizeSlots('uno', [img('a')])).toHaveLength(4);
    expect(normalizeSlots('omnigen2', [null, null, null, null])).toHaveLength(3);
    expect(normalizeSlots('omnigen2', [null, null, null, img('a')])).toHaveLength(4);
    expect(visibleSlotCount('omnigen2', [null])).toBe(3);
  });

  it('moves into an empty slot, or shifts like a list', () => {
    const a = img('a'), b = img('b'), c = img('c');
    expect(moveSlot([a, null, b], 0, 1)).toEqual([null, a, b]);
    expect(moveSlot([a, b, c], 0, 2)).toEqual([b, c, a]);
    expect(moveSlot([a, b, c], 2, 0)).toEqual([c, a, b]);
    expect(moveSlot([a, b], 1, 0)).toEqual([b, a]);
    expect(moveSlot([a, b], 0, 5)).toEqual([a, b]);
  });

  it('places dropped images on the target slot, then the next empty ones, then new slots up to the max', () => {
    const a = img('a');
    expect(placementSlots([null, null, null, null], 2, 8)).toEqual([0, 1]);
    expect(placementSlots([a, null, a, null], 3, 8)).toEqual([1, 3, 4]);
    expect(placementSlots([null, a, null, null], 2, 8, 2)).toEqual([2, 3]);
    expect(placementSlots([null, a, a, a], 3, 8, 3)).toEqual([3, 0, 4]); // existing empty slots before new ones
    expect(placementSlots([a, a, a, a], 2, 8, 3)).toEqual([3, 4]);
    expect(placementSlots([null, a, null, a], 3, 8, 3)).toEqual([3, 0, 2]);
    expect(placementSlots([a, a, a], 4, 5)).toEqual([3, 4]);
  });
});

describe('result parameters', () => {
  const base: GenerationResult = {
    file: '/out/1.png', width: 1024, height: 576, seed: 1234, backbone: 'uno', timingsMs: { total: 2000 }, warnings: [],
    metadata: {},
  };

  it('reads the request JSON when present and fills the form with a fixed seed', () => {
    const r = { ...base, metadata: { request: JSON.stringify({ backbone: 'uno', prompt: 'p1', steps: 12, guidance: 3.5, lora: { path: '/l/a.safetensors', scale: 0.5 } }) } };
    const p = readResultParams(r);
    expect(p).toMatchObject({ backbone: 'uno', prompt: 'p1', steps: 12, guidance: 3.5, seed: 1234, width: 1024, height: 576, loraPath: '/l/a.safetensors', loraScale: 0.5 });
    const form = applyResultParams(defaultForm(), p);
    expect(form).toMatchObject({ prompt: 'p1', seed: 1234, randomSeed: false, uno: { width: 1024, height: 576, steps: 12, guidance: 3.5 } });
  });

  it('reads flat metadata keys (OmniGen2) and clamps out-of-range values', () => {
    const r: GenerationResult = {
      ...base, backbone: 'omnigen2',
      metadata: { prompt: 'x', negative_prompt: 'bad', steps: '500', text_guidance: '3.5', cfg_range: '0.2,0.8', scheduler: 'dpmsolver++', align_res: 'false' },
    };
    const p = readResultParams(r);
    expect(p).toMatchObject({ prompt: 'x', negativePrompt: 'bad', steps: 500, textGuidance: 3.5, cfgRange: [0.2, 0.8], scheduler: 'dpmsolver++', alignRes: false });
    const form = applyResultParams(defaultForm(), p);
    expect(form.omnigen2).toMatchObject({ steps: 100, textGuidance: 3.5, cfgRangeStart: 0.2, cfgRangeEnd: 0.8, scheduler: 'dpmsolver++', alignRes: false, negativePrompt: 'bad' });
    expect(form.uno).toEqual(defaultForm().uno);
  });

  it('formats ETAs', () => {
    expect(formatEta(null)).toBe('');
    expect(formatEta(4_400)).toBe('4s');
    expect(formatEta(125_000)).toBe('2m 05s');
    expect(formatEta(3_725_000)).toBe('1h 02m');
  });
});
