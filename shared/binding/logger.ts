/**
 * A small levelled logger with one child per recipe. Lines look like Orthanc's own:
 * `I 2026-11-28T22:30:00.123Z hello] NEW_INSTANCE INSTANCE 0475f091-...`.
 * Callers must never pass patient names or PatientID values: logs leave the hospital.
 */
export type LogLevel = 'error' | 'warning' | 'info' | 'debug';

const rank: Record<LogLevel, number> = { error: 0, warning: 1, info: 2, debug: 3 };
const letter: Record<LogLevel, string> = { error: 'E', warning: 'W', info: 'I', debug: 'D' };

export interface Logger {
  readonly name: string;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  child(name: string): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; process.stdout by default. */
  write?: (line: string) => void;
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const threshold = rank[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const make = (loggerName: string): Logger => {
    const log = (level: LogLevel, message: string) => {
      if (rank[level] > threshold) return;
      write(`${letter[level]} ${new Date().toISOString()} ${loggerName}] ${message}\n`);
    };
    return {
      name: loggerName,
      info: (m) => log('info', m),
      warning: (m) => log('warning', m),
      error: (m) => log('error', m),
      debug: (m) => log('debug', m),
      child: (childName) => make(childName),
    };
  };
  return make(name);
}
