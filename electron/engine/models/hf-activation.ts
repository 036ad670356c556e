// Activation functions by the names Hugging Face configs use (`hidden_act`, `dense_act_fn`).
import { type GraphBuilder, type Value } from '../runtime/graph.js';
import { geluErf, geluTanh, quickGelu, silu } from '../runtime/nn.js';

export const HF_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu', 'relu', 'silu', 'swish', 'quick_gelu'] as const;
export type HfActivation = (typeof HF_ACTIVATIONS)[number];

export function isHfActivation(s: string): s is HfActivation {
  return (HF_ACTIVATIONS as readonly string[]).includes(s);
}

/** Emit the activation `act` on `x` (the tanh-approximated GELUs share one fused op). */
export function applyHfActivation(b: GraphBuilder, act: HfActivation, x: Value): Value {
  switch (act) {
    case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': return geluTanh(b, x);
    case 'gelu': return geluErf(b, x);
    case 'relu': return b.op('Relu', [x]);
    case 'silu': case 'swish': return silu(b, x);
    case 'quick_gelu': return quickGelu(b, x);
  }
}
