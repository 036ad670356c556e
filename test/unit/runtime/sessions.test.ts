// Session factory and execution-provider probing on this machine: CPU and WebGPU (Mesa lavapipe)
// work, DirectML/CoreML are not shipped for Linux, CUDA is not installed. GPU sessions never fall
// back to CPU silently, and every failure names the model and the EP.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, type BuiltModel } from '../../../electron/engine/runtime/graph.js';
import { Checkpoint, writeSafetensorsFile } from '../../../electron/engine/runtime/safetensors.js';
import {
  EXECUTION_PROVIDERS, SessionError, createSession, ensureWebGpuEnvironment, isExecutionProvider,
  probeExecutionProviders, resolveExecutionProvider, hasGpuDevice, sessionOptionsFor, type EpProbeResult,
} from '../../../electron/engine/runtime/sessions.js';

let tmp: string;
let ck: Checkpoint;
const W = Float32Array.from({ length: 8 }, (_, i) => i / 2 - 1); // [4, 2]
const B = Float32Array.from([0.5, -0.25]);

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-sessions-test-')));
  writeSafetensorsFile(path.join(tmp, 'w.safetensors'), {
    'proj.weight': { dtype: 'F32', shape: [4, 2], data: W },
    'proj.bias': { dtype: 'F32', shape: [2], data: B },
  });
  ck = Checkpoint.open(path.join(tmp, 'w.safetensors'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** y = x @ W + b with external weights. */
function affine(name = 'affine'): BuiltModel {
  const b = new GraphBuilder(name);
  const x = b.input('x', 'float32', ['n', 4]);
  const y = b.scope('proj', () => b.op('Add', [b.op('MatMul', [x, b.weight(ck.info('proj.weight'))]), b.weight(ck.info('proj.bias'))]));
  b.output(y, 'y', 'float32', ['n', 2]);
  return b.build();
}

function affineRef(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * 2);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < 2; o++) {
      let acc = B[o];
      for (let i = 0; i < 4; i++) acc += x[r * 4 + i] * W[i * 2 + o];
      out[r * 2 + o] = acc;
    }
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A graph with NonZero: no WebGPU kernel in ORT 1.30 (it needs the CPU EP). */
function nonZeroModel(): BuiltModel {
  const b = new GraphBuilder('nonzero_probe');
  const x = b.input('x', 'float32', [4]);
  b.output(b.op('NonZero', [x]), 'idx', 'int64', [1, 'k']);
  return b.build();
}

async function expectSessionError(p: Promise<unknown>, model: string, ep: string, re: RegExp): Promise<SessionError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SessionError);
  const err = caught as SessionError;
  expect(err.model).toBe(model);
  expect(err.ep).toBe(ep);
  expect(err.message.startsWith(`${model} on ${ep}: `)).toBe(true);
  expect(err.message).toMatch(re);
  return err;
}

describe('execution-provider probe', () => {
  let probes: EpProbeResult[];
  const probe = (ep: string) => probes.find((p) => p.ep === ep)!;
  beforeAll(async () => {
    probes = await probeExecutionProviders();
  });

  it('reports every EP once, in a fixed order, and is cached per process', async () => {
    expect(probes.map((p) => p.ep)).toEqual([...EXECUTION_PROVIDERS]);
    expect(probes.map((p) => p.ep)).toEqual(['cpu', 'webgpu', 'dml', 'cuda', 'coreml']);
    expect(await probeExecutionProviders()).toBe(probes);
  });

  it('cpu works', () => {
    expect(probe('cpu')).toEqual({ ep: 'cpu', available: true, works: true, detail: 'ok' });
  });

  it('webgpu works (Dawn on Mesa lavapipe), and a software adapter is said to be one', () => {
    const p = probe('webgpu');
    expect(p).toMatchObject({ ep: 'webgpu', available: true, works: true });
    if (hasGpuDevice()) expect(p.detail).toBe('ok');
    else expect(p.detail).toMatch(/software adapter \(no GPU render node\).*"auto" uses the CPU/);
  });

  it('dml and coreml are not shipped for Linux', () => {
    for (const ep of ['dml', 'coreml']) {
      expect(probe(ep)).toEqual({ ep, available: false, works: false, detail: 'not included in this onnxruntime-node build for this platform' });
    }
  });

  it('cuda is not installed, with a detail that says how to get it', () => {
    const c = probe('cuda');
    expect(c.available).toBe(false);
    expect(c.works).toBe(false);
    expect(c.detail).toMatch(/CUDA add-on not installed/);
    expect(c.detail).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
  });

  it('an explicit EP that does not work falls back to CPU with a warning; working ones are kept', async () => {
    const cuda = await resolveExecutionProvider('cuda');
    expect(cuda.ep).toBe('cpu');
    expect(cuda.warning).toMatch(/^execution provider cuda is not usable here \(CUDA add-on not installed.*\); using CPU$/);
    const dml = await resolveExecutionProvider('dml');
    expect(dml).toEqual({ ep: 'cpu', warning: 'execution provider dml is not usable here (not included in this onnxruntime-node build for this platform); using CPU' });
    expect(await resolveExecutionProvider('cpu')).toEqual({ ep: 'cpu' });
    expect(await resolveExecutionProvider('webgpu')).toEqual({ ep: 'webgpu' });
  });

  it('"auto" resolves to a working EP, and skips software WebGPU when there is no GPU device', async () => {
    const auto = await resolveExecutionProvider('auto');
    expect(auto.warning).toBeUndefined();
    expect(probe(auto.ep).works).toBe(true);
    expect(auto.ep).toBe(hasGpuDevice() ? 'webgpu' : 'cpu');
  });

  it('isExecutionProvider', () => {
    for (const ep of EXECUTION_PROVIDERS) expect(isExecutionProvider(ep)).toBe(true);
    for (const s of ['auto', 'CPU', 'tensorrt', '']) expect(isExecutionProvider(s)).toBe(false);
  });
});

describe('session options', () => {
  it('CPU sessions allow CPU nodes, GPU sessions disable CPU fallback; spinning off; external folder set', () => {
    const m = affine();
    const cpu = sessionOptionsFor(m, { ep: 'cpu' });
    const cpuSession = (cpu.extra as { session: Record<string, string> }).session;
    expect(cpu.executionProviders).toEqual(['cpu']);
    expect(cpuSession.disable_cpu_ep_fallback).toBeUndefined();
    expect(cpuSession['intra_op.allow_spinning']).toBe('0');
    expect(cpuSession['inter_op.allow_spinning']).toBe('0');
    expect(cpuSession.model_external_initializers_file_folder_path).toBe(tmp);
    expect(cpuSession.disable_prepacking).toBeUndefined();
    expect(cpu.enableCpuMemArena).toBe(true);
    expect(cpu.intraOpNumThreads).toBeUndefined();

    const gpu = sessionOptionsFor(m, { ep: 'webgpu', disablePrepacking: true, enableCpuMemArena: false, intraOpThreads: 1 });
    const gpuSession = (gpu.extra as { session: Record<string, string> }).session;
    expect(gpu.executionProviders).toEqual(['webgpu']);
    expect(gpuSession.disable_cpu_ep_fallback).toBe('1');
    expect(gpuSession.disable_prepacking).toBe('1');
    expect(gpu.enableCpuMemArena).toBe(false);
    expect(gpu.intraOpNumThreads).toBe(1);
  });

  it('a model without external weights sets no external folder', () => {
    const b = new GraphBuilder('inline');
    const x = b.input('x', 'float32', [1]);
    b.output(b.op('Neg', [x]), 'y', 'float32', [1]);
    const session = (sessionOptionsFor(b.build(), { ep: 'cpu' }).extra as { session: Record<string, string> }).session;
    expect('model_external_initializers_file_folder_path' in session).toBe(false);
  });

  it('ensureWebGpuEnvironment creates a private XDG_RUNTIME_DIR when none is set', () => {
    const saved = process.env.XDG_RUNTIME_DIR;
    try {
      delete process.env.XDG_RUNTIME_DIR;
      ensureWebGpuEnvironment();
      const dir = process.env.XDG_RUNTIME_DIR!;
      expect(dir).toBeTruthy();
      const st = fs.statSync(dir);
      expect(st.isDirectory()).toBe(true);
      expect(st.mode & 0o777).toBe(0o700);
      process.env.XDG_RUNTIME_DIR = '/already/set';
      ensureWebGpuEnvironment();
      expect(process.env.XDG_RUNTIME_DIR).toBe('/already/set');
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });
});

describe('sessions', () => {
  const n = 3;
  const x = Float32Array.from({ length: n * 4 }, (_, i) => Math.cos(i) * 2);

  it('a CPU session runs external-data weights and matches the JS reference', async () => {
    const s = await createSession(affine(), { ep: 'cpu' });
    try {
      expect(s.ep).toBe('cpu');
      expect(s.modelName).toBe('affine');
      expect(s.inputNames).toEqual(['x']);
      expect(s.outputNames).toEqual(['y']);
      expect(s.createMs).toBeGreaterThan(0);
      const out = await s.run({ x: new ort.Tensor('float32', x, [n, 4]) });
      expect(out.y.dims).toEqual([n, 2]);
      expect(maxAbsDiff(out.y.data as Float32Array, affineRef(x, n))).toBeLessThan(1e-6);
    } finally {
      await s.release();
    }
  });

  it('a WebGPU session runs the same graph with results matching CPU', async () => {
    const s = await createSession(affine('affine_gpu'), { ep: 'webgpu' });
    try {
      const out = await s.run({ x: new ort.Tensor('float32', x, [n, 4]) }, ['y']);
      expect(maxAbsDiff(out.y.data as Float32Array, affineRef(x, n))).toBeLessThan(1e-5);
    } finally {
      await s.release();
    }
  });

  it('a released session refuses to run with a clear error; release twice is harmless', async () => {
    const s = await createSession(affine('released_model'), { ep: 'cpu' });
    await s.release();
    await s.release();
    await expectSessionError(s.run({ x: new ort.Tensor('float32', x, [n, 4]) }), 'released_model', 'cpu', /session was already released/);
  });

  it('a failing run names the model and the EP', async () => {
    const s = await createSession(affine('bad_feeds'), { ep: 'cpu' });
    try {
      await expectSessionError(s.run({ wrong: new ort.Tensor('float32', x, [n, 4]) }), 'bad_feeds', 'cpu', /run failed: .*x/);
      await expectSessionError(s.run({ x: new ort.Tensor('float32', x, [2, 6]) }), 'bad_feeds', 'cpu', /run failed: /);
    } finally {
      await s.release();
    }
  });

  it('external data with a wrong length is refused at creation, naming the model', async () => {
    const info = ck.info('proj.weight');
    const b = new GraphBuilder('bad_length');
    const xv = b.input('x', 'float32', [1, 4]);
    b.output(b.op('MatMul', [xv, b.weight({ ...info, byteLength: info.byteLength + 4 })]), 'y', 'float32', [1, 2]);
    await expectSessionError(createSession(b.build(), { ep: 'cpu' }), 'bad_length', 'cpu', /session creation failed: .*proj.weight external data size mismatch/);
  });

  it('a GPU session whose graph has an op WebGPU lacks fails at creation (no CPU fallback)', async () => {
    const m = nonZeroModel();
    // The graph itself is fine: the CPU EP runs it.
    const cpu = await createSession(m, { ep: 'cpu' });
    try {
      const out = await cpu.run({ x: new ort.Tensor('float32', Float32Array.from([0, 3, 0, -1]), [4]) });
      expect([...(out.idx.data as BigInt64Array)]).toEqual([1n, 3n]);
    } finally {
      await cpu.release();
    }
    const err = await expectSessionError(createSession(m, { ep: 'webgpu' }), 'nonzero_probe', 'webgpu',
      /session creation failed: .*fallback to CPU EP has been explicitly disabled/);
    expect(err.message).toMatch(/an op in this graph has no webgpu kernel/);
  });
});
