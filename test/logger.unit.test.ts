import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, type Logger, type LoggerOptions } from '../shared/binding/index.js';

function capture(options: Omit<LoggerOptions, 'write'> = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger('host', { ...options, write: (line) => lines.push(line) }), lines };
}

const textLine = /^([EWID]) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+)\] (.*)\n$/;

describe('the logger', () => {
  it('keeps the text lines of today when a call has no fields', () => {
    const { log, lines } = capture();
    log.info('listening');
    log.withName!('hello').warning('NEW_INSTANCE INSTANCE 0475f091');
    assert.equal(lines.length, 2);
    assert.deepEqual(
      textLine
        .exec(lines[0]!)
        ?.slice(1)
        .filter((_, i) => i !== 1),
      ['I', 'host', 'listening'],
    );
    assert.deepEqual(
      textLine
        .exec(lines[1]!)
        ?.slice(1)
        .filter((_, i) => i !== 1),
      ['W', 'hello', 'NEW_INSTANCE INSTANCE 0475f091'],
    );
  });

  it('appends fields as key=value in text, quoting values with spaces, quotes or nothing', () => {
    const { log, lines } = capture();
    log.error('change handler failed', {
      recipe: 'hello',
      resourceId: 'abc',
      seq: 12,
      ok: false,
      reason: 'a "b" c',
      empty: '',
      missing: undefined,
      none: null,
    });
    assert.match(
      lines[0]!,
      / host\] change handler failed recipe=hello resourceId=abc seq=12 ok=false reason="a \\"b\\" c" empty="" none=null\n$/,
    );
  });

  it('writes one JSON object a line in the json format: time, level, logger, message, then the fields', () => {
    const { log, lines } = capture({ format: 'json', level: 'debug' });
    log.withName!('changes').error('failed on "NEW_INSTANCE"\nsecond line', {
      recipe: 'hello',
      changeType: 'NEW_INSTANCE',
      seq: 3,
      missing: undefined,
    });
    log.debug('plain');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'exactly one line');
    }
    const first = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(first), ['time', 'level', 'logger', 'message', 'recipe', 'changeType', 'seq']);
    assert.equal(first.level, 'error');
    assert.equal(first.logger, 'changes');
    assert.equal(first.message, 'failed on "NEW_INSTANCE"\nsecond line');
    assert.equal(new Date(first.time).toISOString(), first.time);
    assert.deepEqual([first.recipe, first.changeType, first.seq], ['hello', 'NEW_INSTANCE', 3]);
    assert.deepEqual(JSON.parse(lines[1]!).level, 'debug');
  });

  it('never lets a field replace time, level, logger or message', () => {
    const { log, lines } = capture({ format: 'json' });
    log.info('real', { message: 'forged', level: 'error', logger: 'other', time: 'then', kept: 1 });
    const entry = JSON.parse(lines[0]!);
    assert.deepEqual([entry.message, entry.level, entry.logger, entry.kept], ['real', 'info', 'host', 1]);
    assert.notEqual(entry.time, 'then');
  });

  it('drops lines below the level in both formats', () => {
    for (const format of ['text', 'json'] as const) {
      const { log, lines } = capture({ format, level: 'warning' });
      log.debug('no', { a: 1 });
      log.info('no');
      log.warning('yes');
      log.error('yes', { a: 1 });
      assert.equal(lines.length, 2, format);
    }
  });

  it('names a child after its parent (autorouting.sender), and withName keeps the output under another name', () => {
    const { log, lines } = capture();
    const recipe = log.withName!('autorouting');
    recipe.child('sender').info('sent');
    recipe.child('sender').child('lane').info('queued');
    recipe.info('enabled');
    assert.deepEqual(
      lines.map((line) => textLine.exec(line)?.[3]),
      ['autorouting.sender', 'autorouting.sender.lane', 'autorouting'],
    );
  });

  it('still accepts loggers written against the one-argument methods', () => {
    const seen: string[] = [];
    // A Logger implemented before fields existed remains a Logger (this is checked by the compiler).
    const legacy: Logger = {
      name: 'legacy',
      info: (message: string) => void seen.push(message),
      warning: (message: string) => void seen.push(message),
      error: (message: string) => void seen.push(message),
      debug: (message: string) => void seen.push(message),
      child: () => legacy,
    };
    legacy.info('one');
    legacy.error('two', { recipe: 'hello' });
    assert.deepEqual(seen, ['one', 'two']);
  });
});
