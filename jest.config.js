/** Jest runs the TypeScript tests directly through ts-jest (type checking is done by `tsc` in the build). */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', target: 'ES2022', lib: ['ES2022', 'ESNext.Disposable'], isolatedModules: true } }],
  },
  testTimeout: 300000,
};
