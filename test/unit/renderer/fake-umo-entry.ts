// Browser entry for the fake API bundle: installs `window.umo` (options from `window.__fakeUmoOptions`).
import { installFakeUmo, type FakeOptions } from './fake-umo-api.js';

const g = globalThis as unknown as Parameters<typeof installFakeUmo>[0] & { __fakeUmoOptions?: FakeOptions };
installFakeUmo(g, g.__fakeUmoOptions ?? {});
