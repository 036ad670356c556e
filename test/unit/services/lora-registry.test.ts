import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { LoraRegistry, MAX_RECENT_LORAS, validateLoraFile } from '../../../electron/services/lora-registry.js';
import { MemorySettingsService } from '../../../electron/services/settings-service.js';
import { modelBytes, peftLoraBytes, tempDir, unoLoraBytes } from './service-fixtures.js';

function setup() {
  const dir = tempDir();
  const settings = new MemorySettingsService();
  const reg = new LoraRegistry({ settings, uploadDir: path.join(dir, 'loras') });
  const write = (name: string, bytes: Uint8Array) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, bytes);
    return f;
  };
  return { dir, settings, reg, write };
}

describe('LoRA validation', () => {
  test('accepts UNO processor LoRAs for UNO and PEFT LoRAs for OmniGen2, with the rank', () => {
    const { write } = setup();
    expect(validateLoraFile(write('uno.safetensors', unoLoraBytes()), 'uno')).toEqual({ tensors: 4, rank: 2 });
    expect(validateLoraFile(write('og.safetensors', peftLoraBytes()), 'omnigen2')).toEqual({ tensors: 2, rank: 2 });
  });

  test('clear errors: wrong backbone, not a LoRA, not safetensors, missing pair, wrong extension', () => {
    const { write } = setup();
    expect(() => validateLoraFile(write('og.safetensors', peftLoraBytes()), 'uno'))
      .toThrow(/^og\.safetensors: not a UNO\/UMO processor LoRA .*; it is an OmniGen2 PEFT LoRA, which is for the OmniGen2 backbone$/);
    expect(() => validateLoraFile(write('flux.safetensors', modelBytes()), 'uno'))
      .toThrow(/^flux\.safetensors: not a UNO\/UMO processor LoRA .*keys \("double_blocks\.0\.img_attn\.qkv\.weight"\) are not LoRA keys/);
    expect(() => validateLoraFile(write('junk.safetensors', Buffer.from('this is not safetensors at all')), 'uno'))
      .toThrow(/^junk\.safetensors: not a readable safetensors file \(header length \d+ exceeds/);
    expect(() => validateLoraFile(write('half.safetensors', unoLoraBytes({ dropUp: true })), 'uno'))
      .toThrow(/^half\.safetensors: incomplete or malformed LoRA \(1 problem\): "double_blocks\.0\.processor\.proj_lora1\.down\.weight" has no matching "double_blocks\.0\.processor\.proj_lora1\.up\.weight"/);
    expect(() => validateLoraFile(write('lora.ckpt', unoLoraBytes()), 'uno')).toThrow(/must be \.safetensors files/);
  });
});

describe('LoraRegistry', () => {
  test('adds files most recent first, deduplicated, capped, and keeps the active LoRA per backbone', () => {
    const { reg, write, settings } = setup();
    const a = reg.addFile('uno', write('a.safetensors', unoLoraBytes()));
    const b = reg.addFile('uno', write('b.safetensors', unoLoraBytes()));
    expect(reg.list().map((l) => l.label)).toEqual(['b.safetensors', 'a.safetensors']);
    reg.addFile('uno', a.path);
    expect(reg.list().map((l) => l.label)).toEqual(['a.safetensors', 'b.safetensors']);
    reg.setActive('uno', b.path);
    expect(settings.get().activeLora).toEqual({ uno: b.path, omnigen2: null });
    expect(reg.active('uno')?.label).toBe('b.safetensors');
    const og = reg.addFile('omnigen2', write('og.safetensors', peftLoraBytes()));
    expect(() => reg.setActive('uno', og.path)).toThrow(/og\.safetensors is a LoRA for the OmniGen2 backbone, not for UNO/);
    reg.setActive('uno', null);
    expect(settings.get().activeLora.uno).toBeNull();
    for (let i = 0; i < MAX_RECENT_LORAS + 3; i++) reg.addFile('uno', write(`l${i}.safetensors`, unoLoraBytes()));
    expect(reg.list()).toHaveLength(MAX_RECENT_LORAS);
    expect(reg.list()[0].label).toBe(`l${MAX_RECENT_LORAS + 2}.safetensors`);
  });

  test('an active LoRA that falls off the recent list is deactivated', () => {
    const { reg, write, settings } = setup();
    const first = reg.addFile('uno', write('first.safetensors', unoLoraBytes()));
    reg.setActive('uno', first.path);
    for (let i = 0; i < MAX_RECENT_LORAS; i++) reg.addFile('uno', write(`l${i}.safetensors`, unoLoraBytes()));
    expect(settings.get().activeLora.uno).toBeNull();
  });

  test('setActive with an unknown path validates and adds it; a bad file is refused and nothing changes', () => {
    const { reg, write, settings } = setup();
    const p = write('new.safetensors', unoLoraBytes());
    reg.setActive('uno', p);
    expect(settings.get().activeLora.uno).toBe(p);
    expect(() => reg.setActive('uno', write('bad.safetensors', modelBytes()))).toThrow(/bad\.safetensors: not a UNO/);
    expect(settings.get().activeLora.uno).toBe(p);
  });

  test('uploaded bytes are validated, stored under the upload folder, and the same upload is stored once', async () => {
    const { reg, dir } = setup();
    const e = await reg.addBytes('uno', 'UMO_UNO.safetensors', unoLoraBytes());
    expect(e.path).toBe(path.join(dir, 'loras', 'UMO_UNO.safetensors'));
    expect(fs.readFileSync(e.path)).toEqual(unoLoraBytes());
    const again = await reg.addBytes('uno', 'UMO_UNO.safetensors', unoLoraBytes());
    expect(again.path).toBe(e.path);
    // Different content under the same name gets its own file.
    const other = await reg.addBytes('omnigen2', 'UMO_UNO.safetensors', peftLoraBytes());
    expect(path.basename(other.path)).toMatch(/^UMO_UNO-[0-9a-f]{12}\.safetensors$/);
    await expect(reg.addBytes('uno', 'model.safetensors', modelBytes())).rejects.toThrow(/model\.safetensors: not a UNO/);
    expect(fs.readdirSync(path.join(dir, 'loras')).sort()).toEqual(['UMO_UNO.safetensors', path.basename(other.path)].sort());
  });
});
