// The built-in demo model in the UI: the one label shown wherever it is active, and the form values
// it starts with (small and few steps, so a generation takes seconds on a CPU).
import { UNO_PARAMS } from '../../shared/backbone-params.js';
import type { UnoFields } from './formState.js';

export const DEMO_LABEL = 'Demo model — random weights: proves the install works, does not make pictures of anything';
export const DEMO_SHORT_LABEL = 'Demo model — random weights';

/** UNO size and steps while the demo model is active. */
export const DEMO_UNO_FIELDS: Pick<UnoFields, 'width' | 'height' | 'steps'> = { width: 64, height: 64, steps: 4 };

/** The UNO fields when the demo is switched on (demo sizes) or off (back to the defaults if still at the demo's). */
export function unoFieldsForDemo(current: UnoFields, demoActive: boolean): UnoFields {
  if (demoActive) return { ...current, ...DEMO_UNO_FIELDS };
  const atDemo = current.width === DEMO_UNO_FIELDS.width && current.height === DEMO_UNO_FIELDS.height && current.steps === DEMO_UNO_FIELDS.steps;
  return atDemo ? { ...current, width: UNO_PARAMS.width.default, height: UNO_PARAMS.height.default, steps: UNO_PARAMS.steps.default } : current;
}

/** Whether a result was made with the demo model (its PNG metadata: the JSON record's `demoModel`, or the Comment). */
export function isDemoResult(metadata: Readonly<Record<string, string>>): boolean {
  const record = metadata['umo-studio'];
  if (record) {
    try {
      if ((JSON.parse(record) as { demoModel?: unknown }).demoModel === true) return true;
    } catch { /* not JSON: fall through */ }
  }
  return metadata.demo === 'true' || /built-in demo model/i.test(metadata.Comment ?? '');
}
