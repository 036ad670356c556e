// OmniGen2's denoising loop for one image (`OmniGen2Pipeline.processing`, spec/pipelines.md §4.1–4.2):
// per step i the guidance decides the passes (3 / 2 / 1), each pass is one transformer forward —
//   cond   = F(x, t_i, prompt,          references)
//   ref    = F(x, t_i, negative prompt, references)
//   uncond = F(x, t_i, negative prompt, no references)
// — the velocities are combined and the scheduler (Euler or DPM-Solver++) takes the step. In bf16
// mode (a BF16 MLLM, the reference's working dtype) the timestep fed to the transformer and the
// latents after every step are rounded to bf16, as the reference's `.to(latents.dtype)` casts do;
// otherwise everything is float32 (the golden pipeline loop).
import type { OmniGen2ForwardInputs, OmniGen2Latent } from '../models/omnigen2-transformer.js';
import { roundArrayToBf16, roundToBf16 } from './bf16.js';
import { type OmniGen2SchedulerKind, createOmniGen2Scheduler, omnigen2NumTokens } from './omnigen2-schedule.js';
import {
  type OmniGen2GuidanceSettings, type OmniGen2Pass, type OmniGen2PassOutputs,
  combineOmniGen2Guidance, omnigen2StepGuidance,
} from './omnigen2-guidance.js';

/** What the loop needs of a transformer (the real one, or a stand-in in tests). */
export interface OmniGen2VelocityModel {
  forward(inp: OmniGen2ForwardInputs): Promise<Float32Array>;
}

/** MLLM hidden states of one prompt: [1, length, text_dim] with its 0/1 mask [1, length]. */
export interface OmniGen2TextCondition {
  readonly hidden: Float32Array;
  readonly length: number;
  readonly mask: ArrayLike<number | bigint>;
}

export interface OmniGen2DenoiseOptions {
  /** Initial noise [1, channels, height, width] (latent pixels). */
  readonly latents: Float32Array;
  readonly height: number;
  readonly width: number;
  readonly scheduler: OmniGen2SchedulerKind;
  readonly steps: number;
  readonly guidance: OmniGen2GuidanceSettings;
  readonly prompt: OmniGen2TextCondition;
  /** Required when any step runs a `ref` or `uncond` pass. */
  readonly negative: OmniGen2TextCondition | null;
  /** Scaled reference latents, each [channels, h, w]; empty for none. */
  readonly refs: readonly OmniGen2Latent[];
  readonly bf16: boolean;
  /** After every transformer pass (a cancellation point). */
  readonly onPass?: (step: number, pass: OmniGen2Pass) => void;
  /** After every step. */
  readonly onStep?: (done: number, total: number) => void;
}

export interface OmniGen2DenoiseResult {
  readonly latents: Float32Array;
  /** Transformer passes run at each step. */
  readonly passesPerStep: number[];
}

/** `cond` and `ref` see the references; `uncond` does not. */
export function omnigen2PassUsesReferences(pass: OmniGen2Pass): boolean {
  return pass !== 'uncond';
}

export async function omnigen2Denoise(model: OmniGen2VelocityModel, o: OmniGen2DenoiseOptions): Promise<OmniGen2DenoiseResult> {
  const scheduler = createOmniGen2Scheduler(o.scheduler, o.steps, omnigen2NumTokens(o.height, o.width));
  const passesPerStep: number[] = [];
  let x = o.latents;
  for (let i = 0; i < o.steps; i++) {
    const step = omnigen2StepGuidance(o.guidance, i, o.steps);
    const t = o.bf16 ? roundToBf16(scheduler.timesteps[i]) : scheduler.timesteps[i];
    const outputs: OmniGen2PassOutputs = {};
    for (const pass of step.passes) {
      const text = pass === 'cond' ? o.prompt : o.negative;
      if (!text) throw new Error(`OmniGen2 step ${i} runs the "${pass}" pass but no negative prompt was encoded`);
      outputs[pass] = await model.forward({
        latents: x, height: o.height, width: o.width, timesteps: [t],
        text: text.hidden, textLen: text.length, textMask: text.mask,
        refs: [omnigen2PassUsesReferences(pass) && o.refs.length ? o.refs : null],
      });
      o.onPass?.(i, pass);
    }
    passesPerStep.push(step.passes.length);
    const next = scheduler.step(combineOmniGen2Guidance(step, outputs), x);
    x = o.bf16 ? roundArrayToBf16(next) : next;
    o.onStep?.(i + 1, o.steps);
  }
  return { latents: x, passesPerStep };
}
