// electron-builder configuration (`npx electron-builder -c build/electron-builder.config.cjs`).
// Packages the compiled main/engine (dist/), the renderer build (renderer/dist/) and the production
// node_modules; native modules stay outside the asar; fuses as in Electron's security guide.
/** @type {import('electron-builder').Configuration} */
const config = {
  appId: 'io.github.umo-studio.app',
  productName: 'UMO Studio',
  copyright: 'Copyright © UMO Studio contributors',
  directories: {
    buildResources: 'build',
    output: 'out/packages',
  },
  files: [
    'dist/**/*',
    '!dist/bench/**',
    '!dist/**/*.map',
    'renderer/dist/**/*',
    'package.json',
    'node_modules/**/*',
  ],
  asar: true,
  // Native addons and the shared libraries they load must be real files on disk.
  asarUnpack: [
    '**/node_modules/onnxruntime-node/**',
    '**/node_modules/sharp/**',
    '**/node_modules/@img/**',
  ],
  npmRebuild: false,
  electronFuses: {
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    // The renderer is served from app:// (never file://), so file: needs no extra privileges.
    grantFileProtocolExtraPrivileges: false,
  },
  icon: 'build/icon.png',
  win: {
    target: [{ target: 'nsis', arch: ['x64'] }],
    icon: 'build/icon.png',
  },
  nsis: {
    oneClick: false,
    perMachine: false,
    allowToChangeInstallationDirectory: true,
    createDesktopShortcut: true,
    shortcutName: 'UMO Studio',
  },
  mac: {
    target: [{ target: 'dmg', arch: ['arm64', 'x64'] }],
    category: 'public.app-category.graphics-design',
    icon: 'build/icon.png',
    hardenedRuntime: true,
  },
  dmg: {
    title: 'UMO Studio',
  },
  linux: {
    target: [
      { target: 'AppImage', arch: ['x64'] },
      { target: 'deb', arch: ['x64'] },
    ],
    category: 'Graphics',
    icon: 'build/icon.png',
    synopsis: 'Local subject-driven image generation (UNO, OmniGen2, UMO)',
    maintainer: 'UMO Studio contributors <umo-studio@users.noreply.github.com>',
  },
  deb: {
    depends: ['libgtk-3-0', 'libnotify4', 'libnss3', 'libxss1', 'libxtst6', 'xdg-utils', 'libatspi2.0-0', 'libuuid1', 'libsecret-1-0'],
  },
  appImage: {
    artifactName: '${productName}-${version}-${arch}.${ext}',
  },
};

module.exports = config;
