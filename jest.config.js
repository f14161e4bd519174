/** Jest runs the TypeScript tests directly through ts-jest (type checking is done by `tsc` in the build). */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // lib/index.mjs is the package's ESM entry over dist/: tests import the TypeScript sources.
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', target: 'ES2022', lib: ['ES2022', 'ESNext.Disposable'], isolatedModules: true } }],
  },
  testTimeout: 300000,
};
