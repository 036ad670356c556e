// UNO / UMO "processor" LoRA files (`dit_lora.safetensors`, `UMO_UNO.safetensors`): validation
// of every key, shape and dtype against the base FLUX DiT (BFL keys), and the list of fused base
// weights each LoRA pair is merged into.
//
// The reference loads these with `load_state_dict(strict=False)` and silently ignores anything
// that does not match; here every mismatch is an error naming the file and the key.
import { type DType, type Weights } from '../runtime/safetensors.js';

/** Dtypes accepted for LoRA factors. */
export const LORA_DTYPES: readonly DType[] = ['BF16', 'F16', 'F32'];

/** One LoRA pair and the base weight rows it is added to: `base[rowStart:rowEnd] += s · up · down`. */
export interface UnoLoraTarget {
  /** e.g. `double_blocks.3.processor.qkv_lora1` */
  readonly loraModule: string;
  readonly downKey: string;
  readonly upKey: string;
  /** Fused BFL weight, e.g. `double_blocks.3.img_attn.qkv.weight`. */
  readonly baseKey: string;
  /** Shape of the whole base weight [rows, in]. */
  readonly baseShape: readonly [number, number];
  /** Rows of the base weight the LoRA changes (all of them, except linear1's qkv part). */
  readonly rowStart: number;
  readonly rowEnd: number;
  readonly inFeatures: number;
  readonly downDtype: DType;
  readonly upDtype: DType;
}

export interface UnoLora {
  /** The LoRA file as given (for messages). */
  readonly file: string;
  readonly rank: number;
  readonly doubleBlocks: number;
  readonly singleBlocks: number;
  readonly hidden: number;
  readonly mlpHidden: number;
  /** Distinct dtypes of the factors (usually one). */
  readonly dtypes: readonly DType[];
  readonly targets: readonly UnoLoraTarget[];
}

/** "<file>: not a valid <what> (N problems):" followed by the first 12 problems. */
export function formatLoraProblems(file: string, what: string, problems: readonly string[]): string {
  const shown = problems.slice(0, 12).map((p) => `  - ${p}`).join('\n');
  const more = problems.length > 12 ? `\n  … and ${problems.length - 12} more` : '';
  return `${file}: not a valid ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${shown}${more}`;
}

export class LoraFormatError extends Error {
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(formatLoraProblems(file, 'UNO/UMO LoRA for this FLUX DiT', problems));
    this.name = 'LoraFormatError';
  }
}

/** The FLUX DiT sizes a UNO LoRA must match, read from the base checkpoint. */
export interface FluxLoraGeometry {
  doubleBlocks: number;
  singleBlocks: number;
  hidden: number;
  mlpHidden: number;
}

function blockIndices(keys: readonly string[], re: RegExp): number[] {
  const out: number[] = [];
  for (const k of keys) {
    const m = re.exec(k);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

function contiguousCount(base: Weights, indices: number[], what: string): number {
  indices.forEach((v, i) => {
    if (v !== i) throw new Error(`${base.path}: ${what} block indices are not 0..${indices.length - 1} (found ${indices.join(', ')})`);
  });
  return indices.length;
}

/** Block counts and widths of a BFL-keyed FLUX DiT, with the shapes of every LoRA target checked. */
export function fluxLoraGeometry(base: Weights): FluxLoraGeometry {
  const keys = base.keys();
  const doubleBlocks = contiguousCount(base, blockIndices(keys, /^double_blocks\.(\d+)\.img_attn\.qkv\.weight$/), 'double');
  const singleBlocks = contiguousCount(base, blockIndices(keys, /^single_blocks\.(\d+)\.linear1\.weight$/), 'single');
  if (doubleBlocks + singleBlocks === 0) {
    throw new Error(`${base.path}: not a FLUX DiT with BFL key names (no double_blocks.N.img_attn.qkv.weight or single_blocks.N.linear1.weight); UNO LoRAs apply to the BFL layout`);
  }
  const refKey = doubleBlocks > 0 ? 'double_blocks.0.img_attn.qkv.weight' : 'single_blocks.0.linear1.weight';
  const hidden = base.expectShape(refKey, [null, null])[1];
  let mlpHidden = 0;
  for (let i = 0; i < doubleBlocks; i++) {
    for (const s of ['img', 'txt']) {
      base.expectShape(`double_blocks.${i}.${s}_attn.qkv.weight`, [3 * hidden, hidden]);
      base.expectShape(`double_blocks.${i}.${s}_attn.proj.weight`, [hidden, hidden]);
    }
  }
  for (let j = 0; j < singleBlocks; j++) {
    const rows = base.expectShape(`single_blocks.${j}.linear1.weight`, [null, hidden])[0];
    const mlp = rows - 3 * hidden;
    if (mlp <= 0) throw new Error(`${base.path}: "single_blocks.${j}.linear1.weight" has ${rows} rows, expected 3·${hidden} (qkv) plus the MLP width`);
    if (j === 0) mlpHidden = mlp;
    else if (mlp !== mlpHidden) throw new Error(`${base.path}: "single_blocks.${j}.linear1.weight" implies MLP width ${mlp}, block 0 has ${mlpHidden}`);
    base.expectShape(`single_blocks.${j}.linear2.weight`, [hidden, hidden + mlpHidden]);
  }
  return { doubleBlocks, singleBlocks, hidden, mlpHidden };
}

interface ExpectedPair {
  loraModule: string;
  baseKey: string;
  baseShape: [number, number];
  rowStart: number;
  rowEnd: number;
  inFeatures: number;
}

/** Every LoRA module a UNO LoRA must hold for this geometry, in file-independent order. */
export function expectedUnoLoraModules(g: FluxLoraGeometry): ExpectedPair[] {
  const h = g.hidden;
  const out: ExpectedPair[] = [];
  for (let i = 0; i < g.doubleBlocks; i++) {
    const p = `double_blocks.${i}`;
    for (const [lora, stream] of [['1', 'img'], ['2', 'txt']] as const) {
      out.push({ loraModule: `${p}.processor.qkv_lora${lora}`, baseKey: `${p}.${stream}_attn.qkv.weight`, baseShape: [3 * h, h], rowStart: 0, rowEnd: 3 * h, inFeatures: h });
      out.push({ loraModule: `${p}.processor.proj_lora${lora}`, baseKey: `${p}.${stream}_attn.proj.weight`, baseShape: [h, h], rowStart: 0, rowEnd: h, inFeatures: h });
    }
  }
  for (let j = 0; j < g.singleBlocks; j++) {
    const p = `single_blocks.${j}`;
    out.push({ loraModule: `${p}.processor.qkv_lora`, baseKey: `${p}.linear1.weight`, baseShape: [3 * h + g.mlpHidden, h], rowStart: 0, rowEnd: 3 * h, inFeatures: h });
    out.push({ loraModule: `${p}.processor.proj_lora`, baseKey: `${p}.linear2.weight`, baseShape: [h, h + g.mlpHidden], rowStart: 0, rowEnd: h, inFeatures: h + g.mlpHidden });
  }
  return out;
}

/** A hint when the keys look like another LoRA convention. */
function formatHint(keys: readonly string[]): string | null {
  if (keys.some((k) => k.includes('lora_A') || k.includes('lora_B'))) {
    return 'keys use PEFT/diffusers names (lora_A/lora_B); this loader expects UNO processor keys (…processor.qkv_lora1.down.weight)';
  }
  if (keys.some((k) => k.startsWith('lora_unet_') || k.endsWith('.lora_down.weight'))) {
    return 'keys use kohya names (lora_unet_…/lora_down); this loader expects UNO processor keys (…processor.qkv_lora1.down.weight)';
  }
  if (keys.some((k) => k.startsWith('transformer.') || k.startsWith('diffusion_model.'))) {
    return 'keys carry a "transformer."/"diffusion_model." prefix; UNO processor keys start with double_blocks./single_blocks.';
  }
  return null;
}

function shapeText(s: readonly (number | string)[]): string {
  return `[${s.join(', ')}]`;
}

/**
 * Validate a UNO/UMO processor LoRA against the base FLUX DiT: every expected key present, no
 * other key, float dtypes (BF16/F16/F32), one rank for all pairs, and `down` [rank, in] /
 * `up` [out, rank] matching the base layer widths. Throws LoraFormatError listing every problem.
 */
export function readUnoLora(w: Weights, base: Weights): UnoLora {
  const g = fluxLoraGeometry(base);
  const expected = expectedUnoLoraModules(g);
  const file = w.path;
  const problems: string[] = [];
  const keys = w.keys();

  const expectedKeys = new Set<string>();
  for (const e of expected) {
    expectedKeys.add(`${e.loraModule}.down.weight`);
    expectedKeys.add(`${e.loraModule}.up.weight`);
  }
  const unexpected = keys.filter((k) => !expectedKeys.has(k)).sort();
  if (unexpected.length) {
    const hint = formatHint(unexpected);
    if (hint) {
      // A foreign convention: one line for the whole file rather than one per key.
      problems.push(hint);
      problems.push(`${unexpected.length} unexpected keys, e.g. "${unexpected[0]}"`);
    } else {
      for (const k of unexpected) {
        const m = /^(double|single)_blocks\.(\d+)\./.exec(k);
        const count = m ? (m[1] === 'double' ? g.doubleBlocks : g.singleBlocks) : 0;
        const why = m && Number(m[2]) >= count
          ? `block ${m[2]} does not exist (the base has ${count} ${m[1]} blocks)`
          : 'not a UNO processor LoRA key for this model';
        problems.push(`unexpected key "${k}": ${why}`);
      }
    }
  }
  if (![...expectedKeys].some((k) => w.has(k))) {
    const first = `${expected[0].loraModule}.down.weight`;
    problems.push(`none of the ${expectedKeys.size} expected UNO processor keys is present (e.g. "${first}")`);
    throw new LoraFormatError(file, problems);
  }

  // Rank: from the first pair present; all others must agree.
  let rank = -1;
  for (const e of expected) {
    const k = `${e.loraModule}.down.weight`;
    if (w.has(k) && w.shape(k).length === 2) { rank = w.shape(k)[0]; break; }
  }
  if (rank === 0) problems.push('rank 0 (down weights have no rows)');

  const targets: UnoLoraTarget[] = [];
  const dtypes = new Set<DType>();
  for (const e of expected) {
    const downKey = `${e.loraModule}.down.weight`;
    const upKey = `${e.loraModule}.up.weight`;
    const out = e.rowEnd - e.rowStart;
    let ok = true;
    const r: number | string = rank > 0 ? rank : '?';
    for (const [key, want] of [[downKey, [r, e.inFeatures]], [upKey, [out, r]]] as const) {
      if (!w.has(key)) {
        problems.push(`missing key "${key}" (expected shape ${shapeText(want)})`);
        ok = false;
        continue;
      }
      const info = w.info(key);
      if (!LORA_DTYPES.includes(info.dtype)) {
        problems.push(`"${key}" has dtype ${info.dtype}; LoRA factors must be ${LORA_DTYPES.join(', ')}`);
        ok = false;
      }
      const s = info.shape;
      if (s.length !== 2 || s[0] !== want[0] || s[1] !== want[1]) {
        const rankMismatch = s.length === 2 && rank > 0
          && (key === downKey ? s[1] === want[1] && s[0] !== rank : s[0] === want[0] && s[1] !== rank);
        problems.push(rankMismatch
          ? `"${key}" has rank ${key === downKey ? s[0] : s[1]} (shape ${shapeText(s)}), but the other pairs have rank ${rank}`
          : `"${key}" has shape ${shapeText(s)}, expected ${shapeText(want)} (base "${e.baseKey}" is ${shapeText(e.baseShape)}${e.rowEnd !== e.baseShape[0] ? `, LoRA rows ${e.rowStart}..${e.rowEnd}` : ''})`);
        ok = false;
      }
      dtypes.add(info.dtype);
    }
    if (ok) {
      targets.push({
        loraModule: e.loraModule, downKey, upKey, baseKey: e.baseKey, baseShape: e.baseShape,
        rowStart: e.rowStart, rowEnd: e.rowEnd, inFeatures: e.inFeatures,
        downDtype: w.info(downKey).dtype, upDtype: w.info(upKey).dtype,
      });
    }
  }
  if (problems.length) throw new LoraFormatError(file, problems);
  return {
    file, rank, doubleBlocks: g.doubleBlocks, singleBlocks: g.singleBlocks, hidden: g.hidden, mlpHidden: g.mlpHidden,
    dtypes: [...dtypes], targets,
  };
}
