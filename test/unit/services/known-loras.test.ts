import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { LoraRegistry } from '../../../electron/services/lora-registry.js';
import { MemorySettingsService } from '../../../electron/services/settings-service.js';

describe('LoRAs that come with the models', () => {
  test('are appended to the list once, without changing the order or the active LoRA', () => {
    const settings = new MemorySettingsService();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-known-'));
    const reg = new LoraRegistry({ settings, uploadDir: dir } as ConstructorParameters<typeof LoraRegistry>[0]);
    settings.update({ recentLoras: [{ path: '/mine.safetensors', label: 'mine', backbone: 'uno' }], activeLora: { uno: '/mine.safetensors', omnigen2: null } });
    const known = [{ path: '/m/UNO/dit_lora.safetensors', label: 'dit_lora.safetensors', backbone: 'uno' as const }];
    reg.rememberKnown(known);
    reg.rememberKnown(known);
    expect(settings.get().recentLoras.map((l) => l.path)).toEqual(['/mine.safetensors', '/m/UNO/dit_lora.safetensors']);
    expect(settings.get().activeLora.uno).toBe('/mine.safetensors');
  });
});
