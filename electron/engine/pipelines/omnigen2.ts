// The OmniGen2 pipeline (OmniGen2 + optional UMO PEFT LoRA), as numbered steps like
// `OmniGen2Pipeline.__call__` (spec/pipelines.md §2.5, §4):
//   1. plan        resolve model files, execution provider, seed, generation and output sizes; the memory
//                  plan (precision per component, residency, streaming), refused when it does not fit
//   2. prepare     weight bakes from the bake cache: the PEFT LoRA merge and/or int8/int4 quantization
//   3. encode      Qwen2.5-VL text model on the chat-templated prompt, and separately on the negative
//                  prompt when any step uses text guidance; the MLLM is released before anything else loads
//   4. references  resize by max pixels / max side (multiples of 16, no crop), VAE posterior sample, scale
//   5. denoise     per image: Euler or DPM-Solver++, 3/2/1 transformer passes per step as the guidance
//                  settings and cfg range decide; cancel checks between passes, progress per step
//   6. decode      VAE decoder per image, then bilinear resize to the requested size when the
//                  generation size differed (F.interpolate, align_corners=False)
//   7. save        one PNG per image with the parameters as text metadata, written atomically
//
// Sizes (§4.4): with exactly one reference and align-res on, the image is generated at the
// resized reference's size and not resized. Otherwise it is generated at the request scaled down to
// `maxPixels` (never up) and floored to multiples of 16, then resized to the request.
//
// Precision follows the reference, whose working dtype is the MLLM's (`prompt_embeds.dtype`): for a
// BF16 mllm/ (the official files) the initial noise is drawn as bfloat16, the prompt embeddings,
// reference latents, the timestep fed to the transformer and the latents after every step are
// rounded to bf16; for a float32 mllm/ everything stays float32 (the golden pipeline loop).
//
// Random numbers: one torch-compatible CPU generator seeded with the seed (the UMO demo uses a CPU
// generator, "to avoid different results on different GPUs") draws, in order: the initial noise of
// all images at once, [images, 16, h/8, w/8] (as `prepare_latents` with num_images_per_prompt), then
// one posterior eps per reference in reference order, in the VAE weights' dtype. (The reference
// samples the posterior from torch's unseeded global RNG; seeding it here makes every run repeatable.)
import path from 'node:path';
import type { OmniGen2Request } from '../../../shared/backbone-params.js';
import type { GenerationResult, JobEnvironment } from '../../../shared/engine-protocol.js';
import { OMNIGEN2_MANIFEST } from '../../../shared/model-manifests.js';
import { Checkpoint, type Weights } from '../runtime/safetensors.js';
import { requireBackbone } from '../runtime/model-locator.js';
import { resolveExecutionProvider, type ExecutionProvider } from '../runtime/sessions.js';
import type { BakePrecision } from '../runtime/bake-cache.js';
import { DeviceFallback } from './device-fallback.js';
import { bakePeftLora } from '../lora/peft-lora.js';
import { Qwen2TextModel, readQwen2TextConfig } from '../models/qwen2-text.js';
import { defaultAttentionFor } from '../models/attention.js';
import { OmniGen2Transformer, readOmniGen2TransformerConfig, type OmniGen2Latent } from '../models/omnigen2-transformer.js';
import { VaeDecoder, VaeEncoder, readVaeConfig, samplePosterior, scaleLatent } from '../models/autoencoder.js';
import { OMNIGEN2_MAX_SEQUENCE_LENGTH, QwenTokenizer } from '../text/qwen-prompt.js';
import { TorchGenerator } from '../sampling/torch-generator.js';
import { torchRandn, type RandnDType } from '../sampling/torch-randn.js';
import { roundArrayToBf16 } from '../sampling/bf16.js';
import { type OmniGen2GuidanceSettings, checkOmniGen2Guidance, omnigen2StepGuidance } from '../sampling/omnigen2-guidance.js';
import { omnigen2Denoise } from '../sampling/omnigen2-denoise.js';
import { loadImageRgb } from '../image/load-image.js';
import { omnigen2ReferenceTensor, type OmniGen2ResizeLimits } from '../image/omnigen2-reference.js';
import { resizeBilinearPlanes } from '../image/bilinear-resize.js';
import { decodedToRgb8 } from '../image/output-image.js';
import { writePngWithText } from '../image/png-metadata.js';
import { resultFileName, buildResultMetadata } from './result-files.js';
import { PhaseTracker, type PipelineContext } from './pipeline-context.js';
import { WeightPreparer, weightsForEp } from './component-weights.js';
import { planJob } from './job-plan.js';
import { residentNetworks } from './network-pool.js';
import { precisionSummary } from '../runtime/memory-planner.js';

/** VAE downsampling × transformer patch: generation sizes are multiples of this. */
const SIZE_MULTIPLE = 16;
const VAE_FACTOR = 8;

interface TextCondition {
  /** [1, L, text_dim]. */
  hidden: Float32Array;
  length: number;
  mask: Uint8Array;
}

export interface OmniGen2Sizes {
  /** Size the transformer generates at (multiples of 16). */
  genWidth: number;
  genHeight: number;
  /** Size of the saved image. */
  outWidth: number;
  outHeight: number;
}

/**
 * Generation and output sizes (§4.4): one reference + alignRes → the resized reference's size;
 * otherwise the request scaled to at most `maxPixels` (never up), floored to multiples of 16.
 */
export function omnigen2OutputSizes(req: Pick<OmniGen2Request, 'width' | 'height' | 'maxPixels' | 'alignRes'>,
  referenceSizes: ReadonlyArray<{ width: number; height: number }>): OmniGen2Sizes {
  if (referenceSizes.length === 1 && req.alignRes) {
    const r = referenceSizes[0];
    return { genWidth: r.width, genHeight: r.height, outWidth: r.width, outHeight: r.height };
  }
  const ratio = Math.min(Math.sqrt(req.maxPixels / (req.width * req.height)), 1);
  const genHeight = Math.floor(Math.trunc(req.height * ratio) / SIZE_MULTIPLE) * SIZE_MULTIPLE;
  const genWidth = Math.floor(Math.trunc(req.width * ratio) / SIZE_MULTIPLE) * SIZE_MULTIPLE;
  if (genWidth < SIZE_MULTIPLE || genHeight < SIZE_MULTIPLE) {
    throw new RangeError(`OmniGen2: ${req.width}×${req.height} limited to ${req.maxPixels} pixels gives ${genWidth}×${genHeight}; both sides must reach ${SIZE_MULTIPLE}`);
  }
  return { genWidth, genHeight, outWidth: req.width, outHeight: req.height };
}

export async function runOmniGen2Pipeline(req: OmniGen2Request, env: JobEnvironment, ctx: PipelineContext): Promise<GenerationResult> {
  const t = new PhaseTracker(ctx);
  const warnings: string[] = [];
  const warn = (message: string) => { warnings.push(message); ctx.emit({ type: 'warning', message }); };

  // 1. plan -------------------------------------------------------------------------------------
  t.phase('loading', 'locating model files');
  const guidance: OmniGen2GuidanceSettings = {
    textGuidance: req.textGuidance, imageGuidance: req.imageGuidance, cfgRange: req.cfgRange, referenceCount: req.references.length,
  };
  checkOmniGen2Guidance(guidance);
  const files = requireBackbone(OMNIGEN2_MANIFEST, { modelsRoot: env.modelsRoot, hfCache: env.hfCache, overrides: env.overrides });
  const resolved = await resolveExecutionProvider(env.ep);
  if (resolved.warning) warn(resolved.warning);
  const device = new DeviceFallback(resolved.ep, warn);
  const seed = req.seed === -1 ? Math.floor(Math.random() * 1e8) : req.seed;
  if (req.references.length > 3) warn(`the OmniGen2 app offers up to 3 references; ${req.references.length} may give unstable results`);
  const limits: OmniGen2ResizeLimits = { maxPixels: req.maxPixels, maxSideLength: req.maxInputSide };
  const mllmWeights = Checkpoint.open(files.mllm);
  const mllmConfig = readQwen2TextConfig(mllmWeights, { configFile: path.join(files.mllm, 'config.json') });
  const bf16 = storedDtype(mllmWeights, 'model.norm.weight') === 'BF16';
  const vaeWeights = Checkpoint.open(files.vae);
  const vaeConfig = readVaeConfig(vaeWeights, { configFile: path.join(files.vae, 'config.json') });
  const ditBase: Weights = Checkpoint.open(files.transformer);
  const ditConfig = readOmniGen2TransformerConfig(ditBase, { configFile: path.join(files.transformer, 'config.json') });
  if (ditConfig.textDim !== mllmConfig.hidden) {
    throw new Error(`${files.transformer}: the transformer reads ${ditConfig.textDim}-wide text features but ${files.mllm} produces ${mllmConfig.hidden}; the folders do not belong together`);
  }
  if (req.references.length > ditConfig.maxReferences) {
    throw new Error(`OmniGen2 takes at most ${ditConfig.maxReferences} reference images (the transformer's image_index_embedding has ${ditConfig.maxReferences} rows); got ${req.references.length}`);
  }
  const round = bf16 ? roundArrayToBf16 : (x: Float32Array) => x;
  const maxPasses = Math.max(...Array.from({ length: req.steps }, (_, i) => omnigen2StepGuidance(guidance, i, req.steps).passes.length));
  const job = await planJob({
    backbone: 'omnigen2', files, ep: resolved.ep, memory: env.memory, pool: residentNetworks,
    request: { width: req.width, height: req.height, references: req.references.length, cfgPasses: maxPasses },
    variant: JSON.stringify(req.lora),
  });
  if (!job.plan.fits) warn(`loading anyway: ${job.plan.reason}`);

  // 2. prepare: weights at the planned precision (LoRA merge and/or int8/int4 bake) ----------------
  const weights = new WeightPreparer({
    job, tracker: t, cacheDir: env.cacheDir, cacheLimitBytes: env.cacheLimitBytes,
    floatLoraBake: async (base, lora, cache, onProgress) => {
      const bake = await bakePeftLora({ base, loraFile: lora.file, scale: req.lora.scale, precision: bakePrecisionFor(base), cache, onProgress });
      return { weights: bake.weights, release: () => bake.entry.release() };
    },
  });
  try {
    const ditWeights = await weights.prepare('transformer', ditBase, 'transformer',
      req.lora.path ? { format: 'peft', file: req.lora.path, scale: req.lora.scale } : null);
    const mllmModel = await weights.prepare('mllm', mllmWeights, 'MLLM');

    // 3. encode prompt (and the negative prompt when text guidance is used), then release the MLLM --
    t.phase('encoding');
    const tokenizer = QwenTokenizer.fromFolderSync(files.processor);
    const needNegative = Array.from({ length: req.steps }, (_, i) => omnigen2StepGuidance(guidance, i, req.steps))
      .some((g) => g.passes.length > 1);
    const texts = needNegative ? [req.prompt, req.negativePrompt] : [req.prompt];
    const [cond, negative] = await device.run('Qwen2.5-VL text model', (ep) => Qwen2TextModel.create(weightsForEp(mllmModel, ep), { ep, config: mllmConfig }),
      async (mllm) => {
        const out: TextCondition[] = [];
        for (const [i, text] of texts.entries()) {
          const batch = tokenizer.encodePrompts([text], { maxLength: OMNIGEN2_MAX_SEQUENCE_LENGTH });
          if (batch.truncated.length) warn(`the ${i === 0 ? 'prompt' : 'negative prompt'} was cut to ${OMNIGEN2_MAX_SEQUENCE_LENGTH} tokens`);
          const hidden = await mllm.encode(batch.ids, batch.mask, 1, batch.length);
          out.push({ hidden: round(hidden), length: batch.length, mask: batch.mask });
          t.checkCancel();
        }
        return out;
      }, job.resident('mllm'));

    // 4. references: resize, VAE encode, posterior sample from the seeded generator ------------------
    const gen = new TorchGenerator(seed);
    const refImages: Array<{ data: Float32Array; shape: readonly number[] }> = [];
    for (const file of req.references) {
      const tensor = omnigen2ReferenceTensor(await loadImageRgb(file), limits);
      refImages.push({ data: tensor.data, shape: tensor.shape });
    }
    const sizes = omnigen2OutputSizes(req, refImages.map((r) => ({ width: r.shape[3], height: r.shape[2] })));
    const lh = sizes.genHeight / VAE_FACTOR;
    const lw = sizes.genWidth / VAE_FACTOR;
    const channels = ditConfig.inChannels;
    const noiseDtype: RandnDType = bf16 ? 'bfloat16' : 'float32';
    const noise = torchRandn(gen, [req.images, channels, lh, lw], noiseDtype);
    const refLatents: OmniGen2Latent[] = [];
    if (refImages.length) {
      t.phase('references', `${refImages.length} image${refImages.length > 1 ? 's' : ''}`);
      const epsDtype: RandnDType = storedDtype(vaeWeights, 'encoder.conv_in.weight') === 'BF16' ? 'bfloat16' : 'float32';
      await device.run('VAE encoder', (ep) => VaeEncoder.create(vaeWeights, { ep, config: vaeConfig }), async (vae) => {
        for (const image of refImages) {
          const posterior = await vae.encode(image.data, image.shape);
          const eps = torchRandn(gen, posterior.shape, epsDtype);
          const z = round(scaleLatent(samplePosterior(posterior, eps), vae.config));
          refLatents.push({ data: z, height: posterior.shape[2], width: posterior.shape[3] });
          t.checkCancel();
        }
      }, job.resident('vae-encoder'));
    }

    // 5. denoise -------------------------------------------------------------------------------------
    t.phase('loading', 'transformer');
    const passesPerStep: number[] = [];
    const plane = channels * lh * lw;
    const latents = await device.run('OmniGen2 transformer', (ep) => OmniGen2Transformer.create(weightsForEp(ditWeights, ep), {
      ep, config: ditConfig, attentionQueryChunks: defaultAttentionFor(ep) === 'unfused' ? job.queryChunks('denoise') : undefined, streamGroups: job.streamGroups, blockBytes: job.blockBytes('transformer') }), async (dit) => {
      t.phase('denoising', `${sizes.genWidth}×${sizes.genHeight}, ${req.scheduler}`);
      const total = req.steps * req.images;
      t.beginSteps(total);
      const results: Float32Array[] = [];
      for (let img = 0; img < req.images; img++) {
        const r = await omnigen2Denoise(dit, {
          latents: noise.slice(img * plane, (img + 1) * plane), height: lh, width: lw,
          scheduler: req.scheduler, steps: req.steps, guidance, prompt: cond, negative: negative ?? null, refs: refLatents, bf16,
          onPass: () => t.checkCancel(),
          onStep: (done) => t.step(img * req.steps + done, total),
        });
        if (img === 0) passesPerStep.push(...r.passesPerStep);
        results.push(r.latents);
      }
      return results;
    }, job.resident('transformer'));

    // 6. decode (and resize to the request) ----------------------------------------------------------
    t.phase('decoding');
    const images = await device.run('VAE decoder', (ep) => VaeDecoder.create(vaeWeights, { ep, config: vaeConfig }), async (decoder) => {
      const out: Float32Array[] = [];
      for (const latent of latents) {
        const { image, shape } = await decoder.decodeLatent(latent, [1, channels, lh, lw]);
        const [, c, h, w] = shape;
        out.push(h === sizes.outHeight && w === sizes.outWidth ? image : resizeBilinearPlanes(image, c, h, w, sizes.outHeight, sizes.outWidth));
        t.checkCancel();
      }
      return out;
    }, job.resident('vae-decoder'));

    // 7. save ----------------------------------------------------------------------------------------
    t.phase('saving');
    const base = await buildResultMetadata({
      backbone: 'omnigen2', request: req, seed, width: sizes.outWidth, height: sizes.outHeight, ep: device.ep as ExecutionProvider,
      modelFiles: files, lora: req.lora.path, appVersion: env.appVersion, demo: env.demo, precisions: precisionSummary(job.plan),
    });
    const first = env.outputFile ?? path.join(env.outputDir, resultFileName(env.outputDir, seed));
    const outFiles = images.map((_, i) => (i === 0 ? first : numberedFile(first, i + 1)));
    const metadata: Record<string, string> = {
      ...base,
      scheduler: req.scheduler,
      textGuidance: String(req.textGuidance),
      imageGuidance: String(req.references.length ? req.imageGuidance : 1),
      cfgRange: req.cfgRange.join(','),
      generationSize: `${sizes.genWidth}x${sizes.genHeight}`,
      /** Transformer forward passes of every denoising step of one image (3 / 2 / 1, §4.2). */
      passesPerStep: passesPerStep.join(','),
      images: String(images.length),
    };
    for (const [i, pixels] of images.entries()) {
      const rgb = decodedToRgb8(pixels, sizes.outHeight, sizes.outWidth, 'omnigen2');
      await writePngWithText(outFiles[i], rgb, sizes.outWidth, sizes.outHeight, { ...metadata, imageIndex: String(i + 1) });
    }
    t.endPhase();
    // `files` (every image of the request, the first is `file`) goes to the result only: the PNGs
    // stay free of output names, so the same seed and settings give byte-identical files anywhere.
    return {
      file: first, width: sizes.outWidth, height: sizes.outHeight, seed, backbone: 'omnigen2',
      metadata: { ...metadata, files: JSON.stringify(outFiles.map((f) => path.basename(f))) },
      timingsMs: t.timings, warnings,
    };
  } finally {
    weights.releaseAll();
  }
}

/** `out.png` → `out-2.png` for the second image of a request. */
function numberedFile(first: string, n: number): string {
  const ext = path.extname(first);
  return `${first.slice(0, first.length - ext.length)}-${n}${ext}`;
}

function storedDtype(w: Weights, key: string): string | null {
  return w.has(key) ? w.info(key).dtype : null;
}

/** Bake in the base checkpoint's own precision (bf16 for the official file; exact for fp32 files). */
function bakePrecisionFor(base: Weights): BakePrecision {
  const dtype = storedDtype(base, 'layers.0.attn.to_q.weight');
  return dtype === 'BF16' ? 'bf16' : dtype === 'F16' ? 'fp16' : 'fp32';
}
