// The tiny UNO kit is a complete models root in the real layouts: the locator finds every
// component (models root and Hugging Face cache layouts), the tokenizers and networks load from
// it, and damaged copies are reported precisely.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { UNO_MANIFEST } from '../../shared/model-manifests.js';
import { writeTinyUnoKit } from '../../electron/engine/kit/tiny-uno-kit.js';
import { describeProblems, locateBackbone, requireBackbone, ModelFilesError } from '../../electron/engine/runtime/model-locator.js';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import { T5Tokenizer } from '../../electron/engine/text/t5-tokenizer.js';
import { ClipTokenizer } from '../../electron/engine/text/clip-tokenizer.js';
import { T5Encoder } from '../../electron/engine/models/t5-encoder.js';
import { ClipTextEncoder } from '../../electron/engine/models/clip-text.js';
import { readFluxDitConfig } from '../../electron/engine/models/flux-dit.js';

let root: string;
const noCache = { hfCache: null } as const;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-kit-'));
  await writeTinyUnoKit(root);
});

function copyTree(src: string, dst: string): void {
  fs.cpSync(src, dst, { recursive: true });
}

describe('tiny UNO kit', () => {
  test('every manifest component is found in the models root', () => {
    const located = locateBackbone(UNO_MANIFEST, { modelsRoot: root, ...noCache });
    for (const l of located) expect(l, `${l.component.id}: ${l.problem ?? ''}`).toMatchObject({ status: 'found', source: 'models-root' });
    const files = requireBackbone(UNO_MANIFEST, { modelsRoot: root, ...noCache });
    expect(Object.keys(files).sort()).toEqual(['ae', 'clip', 'dit', 't5', 'umo_lora', 'uno_lora']);
  });

  test('tokenizers and text encoders load from the real-layout folders', async () => {
    const files = requireBackbone(UNO_MANIFEST, { modelsRoot: root, ...noCache });
    const t5Ids = (await T5Tokenizer.fromFolder(files.t5)).encode('a clock on the beach', 512);
    expect(t5Ids.length).toBe(512);
    const t5 = await T5Encoder.create(Checkpoint.open(files.t5), { ep: 'cpu' });
    const txt = await t5.encode(t5Ids, 1, 512);
    await t5.release();
    expect(txt.length).toBe(512 * 32);
    expect(txt.every(Number.isFinite)).toBe(true);
    const clipTok = await ClipTokenizer.fromFolder(files.clip);
    const { ids } = clipTok.encode('a clock on the beach');
    expect(ids.length).toBe(77);
    const clip = await ClipTextEncoder.create(Checkpoint.open(files.clip), { ep: 'cpu' });
    const { pooled } = await clip.encode(ids);
    await clip.release();
    expect(pooled.length).toBe(32);
    const cfg = readFluxDitConfig(Checkpoint.open(files.dit));
    expect(cfg).toMatchObject({ hidden: 64, contextInDim: 32, vecInDim: 32, axesDim: [4, 14, 14] });
  });

  test('the Hugging Face cache layout (snapshots symlinked into blobs) is found', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-hf-'));
    for (const c of UNO_MANIFEST.components) {
      const [org, name] = c.repo.split('/');
      const repo = path.join(cache, `models--${org}--${name}`);
      const snap = path.join(repo, 'snapshots', 'abc123');
      fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
      fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
      fs.writeFileSync(path.join(repo, 'refs', 'main'), 'abc123');
      const srcDir = path.join(root, org, name);
      const files = c.kind === 'file' ? [c.path] : fs.readdirSync(srcDir);
      for (const f of files) {
        const blob = path.join(repo, 'blobs', `${org}-${name}-${f}`);
        if (!fs.existsSync(blob)) fs.copyFileSync(path.join(srcDir, f), blob);
        fs.mkdirSync(snap, { recursive: true });
        if (!fs.existsSync(path.join(snap, f))) fs.symlinkSync(path.relative(snap, blob), path.join(snap, f));
      }
    }
    const located = locateBackbone(UNO_MANIFEST, { modelsRoot: null, hfCache: cache });
    for (const l of located) expect(l, `${l.component.id}: ${l.problem ?? ''}`).toMatchObject({ status: 'found', source: 'hf-cache' });
  });

  test('missing, truncated and wrong files are reported with where it looked and where to get them', () => {
    const damaged = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-bad-'));
    copyTree(root, damaged);
    const fluxDir = path.join(damaged, 'black-forest-labs', 'FLUX.1-dev');
    // truncated autoencoder
    const ae = path.join(fluxDir, 'ae.safetensors');
    fs.truncateSync(ae, Math.floor(fs.statSync(ae).size / 2));
    // the transformer replaced by another model's file (wrong format)
    fs.copyFileSync(path.join(damaged, 'bytedance-research', 'UNO', 'dit_lora.safetensors'), path.join(fluxDir, 'flux1-dev.safetensors'));
    // the CLIP folder missing
    fs.rmSync(path.join(damaged, 'openai'), { recursive: true });
    const located = Object.fromEntries(locateBackbone(UNO_MANIFEST, { modelsRoot: damaged, ...noCache }).map((l) => [l.component.id, l]));
    expect(located.ae.status).toBe('invalid');
    expect(located.ae.problem).toMatch(/truncated/);
    expect(located.dit.status).toBe('invalid');
    expect(located.dit.problem).toMatch(/does not look like the FLUX.1-dev transformer: it has no tensor "double_blocks.0.img_attn.qkv.weight"/);
    expect(located.clip.status).toBe('missing');
    expect(located.t5.status).toBe('found');
    let err: unknown;
    try { requireBackbone(UNO_MANIFEST, { modelsRoot: damaged, ...noCache }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ModelFilesError);
    const msg = (err as Error).message;
    expect(msg).toContain('missing: CLIP ViT-L/14 text encoder (openai/clip-vit-large-patch14)');
    expect(msg).toContain(path.join(damaged, 'openai', 'clip-vit-large-patch14'));
    expect(msg).toContain('https://huggingface.co/openai/clip-vit-large-patch14');
    expect(describeProblems(Object.values(located))).toContain('unusable: FLUX autoencoder');
  });

  test('an override that does not exist is named', () => {
    const located = locateBackbone(UNO_MANIFEST, { modelsRoot: root, ...noCache, overrides: { ae: '/nowhere/ae.safetensors' } });
    const ae = located.find((l) => l.component.id === 'ae')!;
    expect(ae).toMatchObject({ status: 'missing', source: 'override' });
    expect(ae.problem).toContain('/nowhere/ae.safetensors does not exist');
  });
});
