// The write worker's child process (write-worker.ts): performs one attribute write per request
// and answers { id, ok } or { id, code, detail }. It ignores SIGINT and SIGTERM, which a terminal
// or systemd sends to the whole process group: the parent decides what a signal means, and a
// write the kernel has accepted must get its answer back. It ends when its parent does.

import { writeAttr, WriteFailure } from './write-attr.js';

interface Request {
  id: number;
  file: string;
  value: string;
}

let busy = false;

process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => {
  // Exit would wait for the libuv thread stuck in the write; the parent is gone, so no one is left
  // to tell. SIGKILL ends the process as soon as the kernel lets go of the write.
  if (busy) process.kill(process.pid, 'SIGKILL');
  else process.exit(0);
});

process.send?.({ ready: true });

process.on('message', (req: Request) => {
  busy = true;
  writeAttr(req.file, req.value).then(
    () => answer({ id: req.id, ok: true }),
    (err: unknown) => {
      const f = err instanceof WriteFailure ? err : new WriteFailure('EIO', (err as Error).message);
      answer({ id: req.id, code: f.code, ...(f.detail ? { detail: f.detail } : {}) });
    },
  );
});

function answer(msg: object): void {
  busy = false;
  process.send?.(msg);
}
