import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/server/logger.js';

describe('server logger', () => {
  it('blanks credentials wherever a logged object carries them', () => {
    const lines: string[] = [];
    const logger = createLogger({
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    logger.info(
      {
        password: 'pw-top-level',
        token: 'tok-top-level',
        req: { headers: { authorization: 'Bearer hdr-secret', cookie: 'hs_session=cookie-secret' } },
        pipeline: { name: 'kept', token: 'tok-nested', accessToken: 'tok-access' },
      },
      'something happened',
    );
    const text = lines.join('');
    for (const secret of [
      'pw-top-level',
      'tok-top-level',
      'hdr-secret',
      'cookie-secret',
      'tok-nested',
      'tok-access',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('"name":"kept"');
    expect(text).toContain('[redacted]');
  });
});
