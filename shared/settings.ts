// User settings: one schema used by electron-store (desktop), the web-mode settings file, and the
// settings dialog.
import { z } from 'zod';
import { EP_PREFERENCES } from './engine-protocol.js';

export const THEMES = ['system', 'light', 'dark'] as const;

export const LoraEntrySchema = z.object({
  path: z.string().min(1),
  /** Display name (file name unless the user renamed it). */
  label: z.string().min(1),
  backbone: z.enum(['uno', 'omnigen2']),
});
export type LoraEntry = z.infer<typeof LoraEntrySchema>;

export const SettingsSchema = z.object({
  modelsRoot: z.string().nullable().default(null),
  /** Per-component file/folder overrides, keyed `<backbone>.<component id>`. */
  modelOverrides: z.record(z.string(), z.string()).default({}),
  outputDir: z.string().nullable().default(null),
  backbone: z.enum(['uno', 'omnigen2']).default('uno'),
  /** Known LoRA checkpoints, most recent first. */
  recentLoras: z.array(LoraEntrySchema).max(20).default([]),
  /** Active LoRA per backbone (a path from recentLoras or null for none). */
  activeLora: z.object({ uno: z.string().nullable(), omnigen2: z.string().nullable() }).default({ uno: null, omnigen2: null }),
  loraScale: z.number().min(0).max(2).default(1),
  devicePreference: z.enum(EP_PREFERENCES).default('auto'),
  /**
   * Memory budget in GiB for the chosen device (GPU memory, or RAM on the CPU); null = read from the
   * device when possible. The floor is low on purpose (a tiny budget shows the guardrail on the demo model).
   */
  memoryBudgetGiB: z.number().min(0.125).max(512).nullable().default(null),
  theme: z.enum(THEMES).default('system'),
  /** Use the built-in demo model (random weights) when real checkpoints are missing. */
  useDemoModel: z.boolean().default(false),
});
export type Settings = z.infer<typeof SettingsSchema>;
/** A partial update: only the fields sent (no defaults filled in, so a patch never resets others). */
export const SettingsPatchSchema = z.object(
  Object.fromEntries(Object.entries(SettingsSchema.shape).map(([k, v]) => [k, v instanceof z.ZodDefault ? v.unwrap() : v])) as {
    [K in keyof typeof SettingsSchema.shape]: (typeof SettingsSchema.shape)[K] extends z.ZodDefault<infer T> ? T : (typeof SettingsSchema.shape)[K];
  },
).partial();
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;

export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse({});
