#!/usr/bin/env node
// Entry point of the `sluice` command: runs the compiled composition root (npm run build makes dist/).
import('../dist/src/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/main.js')) {
    console.error('sluice: dist/ is missing; run `npm run build` first');
    process.exit(1);
  }
  throw err;
});
