/**
 * A small levelled logger with one child per recipe. Text lines look like Orthanc's own:
 * `I 2026-11-28T22:30:00.123Z hello] NEW_INSTANCE INSTANCE 0475f091-...`; in the `json` format
 * each line is one JSON object for log shippers (Loki, Elastic, journald):
 * `{"time":"2026-11-28T22:30:00.123Z","level":"info","logger":"hello","message":"...","resourceId":"..."}`.
 * Callers must never pass patient names or PatientID values, in messages or fields: logs leave the hospital.
 */
export type LogLevel = 'error' | 'warning' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';

/**
 * Structured fields of one line, e.g. `{ recipe: 'hello', changeType: 'NEW_INSTANCE', resourceId }`.
 * The message stays complete for a human reader; fields are its machine-readable part. Undefined
 * values are left out; `time`, `level`, `logger` and `message` are reserved and ignored here.
 */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

const rank: Record<LogLevel, number> = { error: 0, warning: 1, info: 2, debug: 3 };
const letter: Record<LogLevel, string> = { error: 'E', warning: 'W', info: 'I', debug: 'D' };
const reserved = new Set(['time', 'level', 'logger', 'message']);

export interface Logger {
  readonly name: string;
  info(message: string, fields?: LogFields): void;
  warning(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** A logger for a part of this one: named this one's name, a dot, then `name` (`autorouting.sender`). */
  child(name: string): Logger;
  /** The same output and level under another name (the host names each recipe's logger after it); absent: `child`. */
  withName?(name: string): Logger;
  /** Whether a line at `level` would be written, to skip work for lines nobody reads; absent: yes. */
  isEnabled?(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** `text` (the default) or `json`: one JSON object a line. */
  format?: LogFormat;
  /** Where lines go; process.stdout by default. */
  write?: (line: string) => void;
}

/** `log` under another name, sharing its output and level (`withName`, or `child` for a Logger without it). */
export const renamed = (log: Logger, name: string): Logger => log.withName?.(name) ?? log.child(name);

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const threshold = rank[options.level ?? 'info'];
  const format = options.format === 'json' ? formatJson : formatText;
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const make = (loggerName: string): Logger => {
    const log = (level: LogLevel, message: string, fields?: LogFields) => {
      if (rank[level] > threshold) return;
      write(`${format(new Date().toISOString(), level, loggerName, message, fields)}\n`);
    };
    return {
      name: loggerName,
      info: (m, f) => log('info', m, f),
      warning: (m, f) => log('warning', m, f),
      error: (m, f) => log('error', m, f),
      debug: (m, f) => log('debug', m, f),
      child: (childName) => make(`${loggerName}.${childName}`),
      withName: (otherName) => make(otherName),
      isEnabled: (level) => rank[level] <= threshold,
    };
  };
  return make(name);
}

/** `I <time> <logger>] <message>`, then ` key=value` per field (values with spaces or quotes JSON-quoted). */
function formatText(time: string, level: LogLevel, logger: string, message: string, fields: LogFields | undefined): string {
  let line = `${letter[level]} ${time} ${logger}] ${message}`;
  for (const [key, value] of definedFields(fields)) {
    const text = String(value);
    line += ` ${key}=${text === '' || /[\s"=\\]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return line;
}

function formatJson(time: string, level: LogLevel, logger: string, message: string, fields: LogFields | undefined): string {
  const entry: Record<string, unknown> = { time, level, logger, message };
  for (const [key, value] of definedFields(fields)) entry[key] = value;
  return JSON.stringify(entry);
}

function* definedFields(fields: LogFields | undefined): Generator<[string, string | number | boolean | null]> {
  if (!fields) return;
  for (const key in fields) {
    const value = fields[key];
    if (value !== undefined && !reserved.has(key)) yield [key, value];
  }
}
