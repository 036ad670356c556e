// The UNO pipeline (FLUX.1-dev + UNO/UMO LoRA), as numbered steps like a diffusers pipeline:
//   1. plan        resolve model files, execution provider, seed and sizes; the memory plan (precision per
//                  component, residency, streaming) for the budget, refused when it does not fit
//   2. prepare     weight bakes from the bake cache: the LoRA merge and/or int8/int4 quantization
//   3. encode      T5 (512 tokens, no mask) and CLIP pooled, then release both (unless all resident)
//   4. references  UNO preprocessing, VAE encoder posterior sample, packed tokens + UnoPE ids
//   5. denoise     one DiT run per step, Euler, cancel checks between steps, then release
//   6. decode      VAE decoder
//   7. save        PNG with the parameters as text metadata, written atomically
//
// Random numbers: one torch-compatible CPU generator seeded with the seed draws, in order, the
// bf16 noise (as UNO's get_noise) and then one posterior eps per reference (float32, in
// reference order). A seed therefore means the same image on every device.
import path from 'node:path';
import type { UnoRequest } from '../../../shared/backbone-params.js';
import type { GenerationResult, JobEnvironment } from '../../../shared/engine-protocol.js';
import { UNO_MANIFEST } from '../../../shared/model-manifests.js';
import { Checkpoint, type Weights } from '../runtime/safetensors.js';
import { requireBackbone } from '../runtime/model-locator.js';
import { resolveExecutionProvider, type ExecutionProvider } from '../runtime/sessions.js';
import type { BakePrecision } from '../runtime/bake-cache.js';
import { DeviceFallback } from './device-fallback.js';
import { bakeUnoLora } from '../lora/merge.js';
import { FluxDit } from '../models/flux-dit.js';
import { defaultAttentionFor } from '../models/attention.js';
import { T5Encoder } from '../models/t5-encoder.js';
import { ClipTextEncoder } from '../models/clip-text.js';
import { VaeDecoder, VaeEncoder, samplePosterior, scaleLatent, unscaleLatent } from '../models/autoencoder.js';
import { T5Tokenizer } from '../text/t5-tokenizer.js';
import { ClipTokenizer } from '../text/clip-tokenizer.js';
import { TorchGenerator } from '../sampling/torch-generator.js';
import { torchRandn, unoNoiseShape } from '../sampling/torch-randn.js';
import { unoSchedule } from '../sampling/uno-schedule.js';
import { roundArrayToBf16 } from '../sampling/bf16.js';
import { unoDenoise } from '../sampling/uno-denoise.js';
import { latentIds, packLatent, referenceIds, textIds, unpackLatent } from '../sampling/uno-tokens.js';
import { loadUnoReference, unoReferenceLongSide } from '../image/uno-reference.js';
import { decodedToRgb8 } from '../image/output-image.js';
import { writePngWithText } from '../image/png-metadata.js';
import { resultFileName, buildResultMetadata } from './result-files.js';
import { PhaseTracker, type PipelineContext } from './pipeline-context.js';
import { WeightPreparer, weightsForEp } from './component-weights.js';
import { planJob } from './job-plan.js';
import { residentNetworks } from './network-pool.js';
import { precisionSummary } from '../runtime/memory-planner.js';

/** UNO's T5 sequence length (the reference pads every prompt to it; the output depends on it). */
const T5_TOKENS = 512;
const LATENT_CHANNELS = 16;

export async function runUnoPipeline(req: UnoRequest, env: JobEnvironment, ctx: PipelineContext): Promise<GenerationResult> {
  const t = new PhaseTracker(ctx);
  const warnings: string[] = [];
  const warn = (message: string) => { warnings.push(message); ctx.emit({ type: 'warning', message }); };

  // 1. plan -------------------------------------------------------------------------------------
  t.phase('loading', 'locating model files');
  const files = requireBackbone(UNO_MANIFEST, { modelsRoot: env.modelsRoot, hfCache: env.hfCache, overrides: env.overrides });
  const resolved = await resolveExecutionProvider(env.ep);
  if (resolved.warning) warn(resolved.warning);
  // A GPU EP that fails to create or run a network falls back to CPU for the rest of the job, visibly.
  const device = new DeviceFallback(resolved.ep, warn);
  const seed = req.seed === -1 ? Math.floor(Math.random() * 1e8) : req.seed;
  const width = Math.floor(req.width / 16) * 16;
  const height = Math.floor(req.height / 16) * 16;
  if (req.references.length > 4) warn(`UNO was trained with up to 4 references; ${req.references.length} may give unstable results`);
  const ditBase: Weights = Checkpoint.open(files.dit);
  const job = await planJob({
    backbone: 'uno', files, ep: resolved.ep, memory: env.memory, pool: residentNetworks,
    request: { width, height, references: req.references.length },
    variant: JSON.stringify(req.lora),
  });
  if (!job.plan.fits) warn(`loading anyway: ${job.plan.reason}`);

  // 2. prepare: weights at the planned precision (LoRA merge and/or int8/int4 bake) ----------------
  const weights = new WeightPreparer({
    job, tracker: t, cacheDir: env.cacheDir, cacheLimitBytes: env.cacheLimitBytes,
    floatLoraBake: async (base, lora, cache, onProgress) => {
      const bake = await bakeUnoLora({
        base, loraFile: lora.file, scale: { mode: 'scale', scale: req.lora.scale }, precision: bakePrecisionFor(base), cache, onProgress,
      });
      return { weights: bake.weights, release: () => bake.entry.release() };
    },
  });
  try {
    const ditWeights = await weights.prepare('dit', ditBase, 'transformer',
      req.lora.path ? { format: 'uno', file: req.lora.path, scale: { mode: 'scale', scale: req.lora.scale } } : null);
    const t5Weights = await weights.prepare('t5', Checkpoint.open(files.t5), 'T5');
    const clipWeights = await weights.prepare('clip', Checkpoint.open(files.clip), 'CLIP');

    // 3. encode text, then release the encoders ----------------------------------------------------
    t.phase('encoding');
    const t5Tok = await T5Tokenizer.fromFolder(files.t5);
    const t5Ids = t5Tok.encode(req.prompt, T5_TOKENS);
    const txt = await device.run('T5 encoder', (ep) => T5Encoder.create(weightsForEp(t5Weights, ep), { ep }),
      (t5) => t5.encode(t5Ids, 1, T5_TOKENS), job.resident('t5'));
    t.checkCancel();
    const clipTok = await ClipTokenizer.fromFolder(files.clip);
    const clipIds = clipTok.encode(req.prompt);
    const vec = await device.run('CLIP text encoder', (ep) => ClipTextEncoder.create(weightsForEp(clipWeights, ep), { ep }),
      async (clip) => (await clip.encode(clipIds.ids)).pooled, job.resident('clip'));

    // 4. references: preprocess, encode, sample the posterior from the seeded generator -------------
    const gen = new TorchGenerator(seed);
    const noiseShape = unoNoiseShape(width, height);
    const noise = torchRandn(gen, noiseShape, 'bfloat16');
    const [, , lh, lw] = noiseShape;
    const refs: Array<{ img: Float32Array; ids: Float32Array }> = [];
    if (req.references.length) {
      t.phase('references', `${req.references.length} image${req.references.length > 1 ? 's' : ''}`);
      const longSide = unoReferenceLongSide(req.references.length);
      const sizes: Array<{ height: number; width: number }> = [];
      const packed: Float32Array[] = [];
      await device.run('VAE encoder', (ep) => VaeEncoder.create(Checkpoint.open(files.ae), { ep }), async (vae) => {
        for (const file of req.references) {
          const image = await loadUnoReference(file, longSide);
          const posterior = await vae.encode(image.data, image.shape);
          const shape = posterior.shape;
          const eps = torchRandn(gen, shape, 'float32');
          const z = scaleLatent(samplePosterior(posterior, eps), vae.config);
          sizes.push({ height: shape[2], width: shape[3] });
          packed.push(packLatent(roundArrayToBf16(z), LATENT_CHANNELS, shape[2], shape[3]));
          t.checkCancel();
        }
      }, job.resident('vae-encoder'));
      const ids = referenceIds({ height: lh, width: lw }, sizes);
      packed.forEach((img, i) => refs.push({ img, ids: ids[i] }));
    }

    // 5. denoise ---------------------------------------------------------------------------------
    t.phase('loading', 'transformer');
    const img = await device.run('FLUX transformer', (ep) => FluxDit.create(weightsForEp(ditWeights, ep), {
      ep, attentionQueryChunks: defaultAttentionFor(ep) === 'unfused' ? job.queryChunks('denoise') : undefined, streamGroups: job.streamGroups, blockBytes: job.blockBytes('dit') }), (dit) => {
      t.phase('denoising');
      t.beginSteps(req.steps);
      return unoDenoise(dit, {
        img: packLatent(noise, LATENT_CHANNELS, lh, lw), imgIds: latentIds(lh, lw),
        txt, txtIds: textIds(T5_TOKENS), vec, refs,
        timesteps: unoSchedule(req.steps, width, height), guidance: req.guidance,
        onStep: (done, total) => t.step(done, total),
      });
    }, job.resident('dit'));

    // 6. decode ------------------------------------------------------------------------------------
    t.phase('decoding');
    const latent = unpackLatent(img, LATENT_CHANNELS, lh, lw);
    const pixels = await device.run('VAE decoder', (ep) => VaeDecoder.create(Checkpoint.open(files.ae), { ep }), async (decoder) => {
      const { image, shape } = await decoder.decode(unscaleLatent(latent, decoder.config), [1, LATENT_CHANNELS, lh, lw]);
      return { data: image, height: shape[2], width: shape[3] };
    }, job.resident('vae-decoder'));

    // 7. save ----------------------------------------------------------------------------------------
    t.phase('saving');
    const rgb = decodedToRgb8(pixels.data, pixels.height, pixels.width, 'uno');
    const metadata = await buildResultMetadata({
      backbone: 'uno', request: req, seed, width: pixels.width, height: pixels.height, ep: device.ep as ExecutionProvider,
      modelFiles: files, lora: req.lora.path, appVersion: env.appVersion, demo: env.demo, precisions: precisionSummary(job.plan),
    });
    const file = env.outputFile ?? path.join(env.outputDir, resultFileName(env.outputDir, seed));
    await writePngWithText(file, rgb, pixels.width, pixels.height, metadata);
    t.endPhase();
    return {
      file, width: pixels.width, height: pixels.height, seed, backbone: 'uno', metadata,
      timingsMs: t.timings, warnings,
    };
  } finally {
    weights.releaseAll();
  }
}

/** Bake in the base checkpoint's own precision (bf16 for the official FLUX file; exact for fp32 files). */
function bakePrecisionFor(base: Weights): BakePrecision {
  const dtype = base.info('double_blocks.0.img_attn.qkv.weight').dtype;
  return dtype === 'BF16' ? 'bf16' : dtype === 'F16' ? 'fp16' : 'fp32';
}
