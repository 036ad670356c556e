import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ModelStatusService } from '../../../electron/services/model-status-service.js';
import { MemorySettingsService } from '../../../electron/services/settings-service.js';
import { encodeSafetensors } from '../../../electron/engine/runtime/safetensors.js';
import { UNO_MANIFEST } from '../../../shared/model-manifests.js';
import { tempDir } from './service-fixtures.js';

const tensor = (key: string) => encodeSafetensors({ [key]: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });

describe('ModelStatusService', () => {
  test('re-scans on every call: missing -> found without a restart; overrides; missing bytes; free disk; demo kit', () => {
    const dataDir = tempDir();
    const root = path.join(dataDir, 'models');
    fs.mkdirSync(root);
    const settings = new MemorySettingsService({ modelsRoot: root });
    const svc = new ModelStatusService({ getSettings: () => settings.get(), demoModelsDir: path.join(dataDir, 'demo-models'), dataDir, hfCache: null });

    const s0 = svc.getModelStatus('uno');
    expect(s0.ready).toBe(false);
    expect(s0.components.map((c) => [c.id, c.status])).toEqual(UNO_MANIFEST.components.map((c) => [c.id, 'missing']));
    const required = UNO_MANIFEST.components.filter((c) => !c.optional);
    expect(s0.missingBytes).toBe(required.reduce((n, c) => n + c.approxBytes, 0));
    expect(s0.freeDiskBytes).toBeGreaterThan(0);
    expect(s0.demoAvailable).toBe(false);
    const dit = s0.components.find((c) => c.id === 'dit')!;
    expect(dit.searched[0]).toBe(path.join(root, 'black-forest-labs', 'FLUX.1-dev', 'flux1-dev.safetensors'));
    expect(dit.downloadUrl).toBe('https://huggingface.co/black-forest-labs/FLUX.1-dev');

    // The user downloads the DiT: counted at the next call.
    const flux = path.join(root, 'black-forest-labs', 'FLUX.1-dev');
    fs.mkdirSync(flux, { recursive: true });
    fs.writeFileSync(path.join(flux, 'flux1-dev.safetensors'), tensor('double_blocks.0.img_attn.qkv.weight'));
    const s1 = svc.getModelStatus('uno');
    const dit1 = s1.components.find((c) => c.id === 'dit')!;
    expect(dit1).toMatchObject({ status: 'found', source: 'models-root', path: path.join(flux, 'flux1-dev.safetensors') });
    expect(s1.missingBytes).toBe(s0.missingBytes - UNO_MANIFEST.components.find((c) => c.id === 'dit')!.approxBytes);

    // A per-component override pointing at the wrong file is reported as invalid with the reason.
    const wrong = path.join(dataDir, 'wrong.safetensors');
    fs.writeFileSync(wrong, tensor('something.else'));
    settings.update({ modelOverrides: { 'uno.ae': wrong } });
    const ae = svc.getModelStatus('uno').components.find((c) => c.id === 'ae')!;
    expect(ae).toMatchObject({ status: 'invalid', source: 'override', path: wrong });
    expect(ae.problem).toMatch(/no tensor "decoder\.conv_in\.weight"/);

    fs.mkdirSync(path.join(dataDir, 'demo-models'));
    fs.writeFileSync(path.join(dataDir, 'demo-models', 'umo-tiny-kit.json'), '{}');
    expect(svc.getModelStatus('uno').demoAvailable).toBe(true);
  });

  test('OmniGen2 with nothing on disk: not ready, every component listed, the optional LoRA not counted as blocking', () => {
    const dataDir = tempDir();
    const settings = new MemorySettingsService();
    const svc = new ModelStatusService({ getSettings: () => settings.get(), demoModelsDir: path.join(dataDir, 'demo'), dataDir, hfCache: null });
    const status = svc.getModelStatus('omnigen2');
    expect(status).toMatchObject({ backbone: 'omnigen2', ready: false });
    expect(status.components.map((c) => c.id)).toEqual(['transformer', 'vae', 'mllm', 'processor', 'scheduler', 'umo_lora']);
    expect(status.components.find((c) => c.id === 'umo_lora')).toMatchObject({ optional: true, status: 'missing' });
  });
});
