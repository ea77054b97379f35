import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules', 'dist'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // two files at a time: most wait on processes, servers and databases rather than the CPU
    // (the suite took 852 s one file at a time, 519 s two at a time on the 2-core machine)
    maxWorkers: 2,
    // checks chromium, PostgreSQL and MySQL/MariaDB once, with one line per problem
    globalSetup: ['./test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    passWithNoTests: false,
  },
});
