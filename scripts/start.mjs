#!/usr/bin/env node
// `npm start`: build what is stale, then run the desktop app; when Electron is not installed or
// cannot start here (offline install, headless server, missing system libraries) say so in one line
// and serve the same UI in web mode instead, printing its URL (and opening a browser when there is
// a display). Never downloads anything.
//
//   npm start -- [--web] [--no-open] [--rebuild] [--port N] [--host ADDR --token SECRET] [--data-dir DIR]
//
//   --web        skip Electron, start web mode directly
//   --no-open    web mode: do not open a browser
//   --rebuild    build even when the build looks up to date
//   other flags  go to web mode (see `node dist/electron/server/web-main.js --help`)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
/** An Electron that exits with an error within this time did not start (rather than crashed later). */
const EARLY_EXIT_MS = 15_000;

const OWN_FLAGS = new Set(['--web', '--no-open', '--rebuild', '--help', '-h']);
const argv = process.argv.slice(2);
const flags = new Set(argv.filter((a) => OWN_FLAGS.has(a)));
const webArgs = argv.filter((a) => !OWN_FLAGS.has(a));

if (flags.has('--help') || flags.has('-h')) {
  console.log(`usage: npm start -- [--web] [--no-open] [--rebuild] [web-mode flags]
  --web        start web mode without trying Electron
  --no-open    web mode: do not open a browser
  --rebuild    build even when the build looks up to date
  web-mode flags: --port N, --host ADDR --token SECRET, --data-dir DIR, --allowed-host NAME`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Build (TypeScript -> dist/, renderer -> renderer/dist/), skipped when nothing changed since.

function newestMtime(entries) {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      const base = path.basename(p);
      if (base === 'node_modules' || base === 'dist') return;
      for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    } else {
      newest = Math.max(newest, st.mtimeMs);
    }
  };
  for (const e of entries) visit(path.join(ROOT, e));
  return newest;
}

function stampTime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

const BUILDS = [
  {
    name: 'TypeScript',
    inputs: ['electron', 'shared', 'bench', 'tsconfig.json', 'tsconfig.build.json', 'package.json'],
    stamp: path.join(ROOT, 'dist', '.umo-build-stamp'),
    output: path.join(ROOT, 'dist', 'electron', 'server', 'web-main.js'),
    cmd: [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  },
  {
    name: 'web UI',
    inputs: ['renderer/src', 'renderer/index.html', 'renderer/vite.config.ts', 'renderer/tsconfig.json', 'shared', 'package.json'],
    stamp: path.join(ROOT, 'renderer', 'dist', '.umo-build-stamp'),
    output: path.join(ROOT, 'renderer', 'dist', 'index.html'),
    cmd: [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'],
  },
];

function build() {
  // Fresh when our last build, or another build of the same output (`npm run build`, `npm test`),
  // is newer than every input.
  const stale = BUILDS.filter((b) => flags.has('--rebuild')
    || (fs.existsSync(b.output) ? Math.max(stampTime(b.stamp), stampTime(b.output)) : 0) < newestMtime(b.inputs));
  if (stale.length === 0) return;
  console.log(`Building (${stale.map((b) => b.name).join(' and ')})…`);
  for (const b of stale) {
    if (!fs.existsSync(b.cmd[0])) {
      console.error(`Cannot build the ${b.name}: ${path.relative(ROOT, b.cmd[0])} is missing. Run "npm install" first.`);
      process.exit(1);
    }
    const r = spawnSync(process.execPath, b.cmd, { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) {
      process.stdout.write(r.stdout ?? '');
      process.stderr.write(r.stderr ?? '');
      console.error(`The ${b.name} build failed (see above).`);
      process.exit(1);
    }
    fs.mkdirSync(path.dirname(b.stamp), { recursive: true });
    fs.writeFileSync(b.stamp, `${new Date().toISOString()}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Electron: the binary the `electron` package installed, found without requiring the package
// (requiring it downloads a missing binary, which hangs offline).

/** The Electron executable, or a one-line reason why there is none. */
function findElectron() {
  const pkgDir = path.join(ROOT, 'node_modules', 'electron');
  if (!fs.existsSync(path.join(pkgDir, 'package.json'))) return { reason: 'Electron is not installed here' };
  let rel = null;
  try {
    rel = fs.readFileSync(path.join(pkgDir, 'path.txt'), 'utf8').trim();
  } catch { /* no binary was downloaded */ }
  // ELECTRON_OVERRIDE_DIST_PATH: a locally provided Electron, as the electron package honours it.
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const exe = override ? path.join(override, rel || 'electron') : rel ? path.join(pkgDir, 'dist', rel) : null;
  if (!exe || !fs.existsSync(exe)) return { reason: 'Electron is not installed here (offline install?)' };
  return { exe };
}

function hasDisplay() {
  if (process.platform !== 'linux' && process.platform !== 'freebsd' && process.platform !== 'openbsd') return true;
  return !!(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

/** The most telling line of Electron's error output (a missing library, no X server, ...). */
function electronProblem(stderr, code, signal) {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const telling = lines.find((l) => /error while loading shared libraries|cannot open shared object|Missing X server|\$DISPLAY|cannot open display|platform failed to initialize/i.test(l))
    ?? lines.find((l) => /error|fatal/i.test(l))
    ?? lines.at(-1);
  const how = signal ? `killed by ${signal}` : `exit code ${code}`;
  const text = telling ? telling.replace(/^\[[^\]]*\]\s*/, '').slice(0, 200) : how;
  return `${text}${telling ? ` (${how})` : ''}`;
}

/** Run Electron; resolves 'fallback' when it failed to start, or never (exits with its code). */
function runElectron(exe) {
  return new Promise((resolve) => {
    const started = Date.now();
    const env = { ...process.env };
    delete env.ELECTRON_RUN_AS_NODE;
    let stderr = '';
    let child;
    try {
      child = spawn(exe, ['.'], { cwd: ROOT, env, stdio: ['inherit', 'inherit', 'pipe'] });
    } catch (e) {
      console.log(`Electron could not start (${e.message}) — starting web mode`);
      resolve('fallback');
      return;
    }
    child.stderr.on('data', (d) => {
      const early = Date.now() - started < EARLY_EXIT_MS;
      stderr += d;
      if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
      // After start-up Electron's messages are the app's own: show them.
      if (!early) process.stderr.write(d);
    });
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
    child.on('error', (e) => {
      console.log(`Electron could not start (${e.message}) — starting web mode`);
      resolve('fallback');
    });
    child.on('exit', (code, signal) => {
      const early = Date.now() - started < EARLY_EXIT_MS;
      if (early && (code !== 0 || signal) && signal !== 'SIGINT' && signal !== 'SIGTERM') {
        console.log(`Electron could not start here: ${electronProblem(stderr, code, signal)} — starting web mode`);
        resolve('fallback');
        return;
      }
      if (early && stderr) process.stderr.write(stderr);
      process.exit(code ?? 1);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Web mode

function openBrowser(url) {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]]
    : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]]
      : ['xdg-open', [url]];
  try {
    const c = spawn(cmd, args, { stdio: 'ignore', detached: true });
    c.on('error', () => console.log(`Open ${url} in your browser.`));
    c.unref();
  } catch {
    console.log(`Open ${url} in your browser.`);
  }
}

function runWebMode() {
  const entry = path.join(ROOT, 'dist', 'electron', 'server', 'web-main.js');
  const child = spawn(process.execPath, [entry, ...webArgs], { cwd: ROOT, stdio: ['inherit', 'pipe', 'inherit'] });
  const wantBrowser = !flags.has('--no-open') && hasDisplay();
  let pending = '';
  let opened = false;
  child.stdout.setEncoding('utf8').on('data', (d) => {
    process.stdout.write(d);
    if (opened || !wantBrowser) return;
    pending += d;
    const m = /UMO Studio web mode: (https?:\/\/\S+)/.exec(pending);
    if (m) {
      opened = true;
      openBrowser(m[1]);
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
}

// ---------------------------------------------------------------------------------------------

build();
if (flags.has('--web')) {
  runWebMode();
} else {
  const found = findElectron();
  if (!found.exe) {
    console.log(`${found.reason} — starting web mode`);
    runWebMode();
  } else if (!hasDisplay()) {
    console.log('No display here (headless server?), so the desktop app cannot open a window — starting web mode');
    runWebMode();
  } else if (await runElectron(found.exe) === 'fallback') {
    runWebMode();
  }
}
