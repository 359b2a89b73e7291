// The logging function logic modules receive (module:log, bound).
export type LogLevel = "debug" | "info" | "warn" | "error";
export type Logger = (this: void, level: LogLevel, message: string, ...args: unknown[]) => void;
