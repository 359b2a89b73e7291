// Typed, validated reads of the module's options. Every check happens at load, and
// every wrong option of a host is reported, not only the first (docs/design.md,
// "Options"): a reader records each problem and goes on with the default.
// Prosody 13's get_option_integer/_enum are not used: 0.12 lacks them and the
// messages should read the same on both.

/** Reads one option's raw value: module:get_option, or a table in specs. */
export type OptionSource = (this: void, name: string) => unknown;

/** Reads options, collecting what is wrong with them instead of stopping at the first. */
export interface OptionReader {
  /** One line per wrong option, in the order they were read. */
  readonly problems: string[];
  /** A whole number from min to max. */
  integer(this: void, name: string, fallback: number, min: number, max: number): number;
  boolean(this: void, name: string, fallback: boolean): boolean;
  string(this: void, name: string): string | undefined;
  choice<T extends string>(this: void, name: string, choices: readonly T[], fallback: T): T;
  /** A list of strings; a single string is accepted as a list of one. */
  list(this: void, name: string, fallback: string[]): string[];
  /** Records a problem the caller found (a rule across options). */
  refuse(this: void, problem: string): void;
}

/** How a wrong value is shown: strings quoted, so "10" and 10 read differently. */
function shown(value: unknown): string {
  return type(value) === "string" ? `"${value as string}"` : tostring(value);
}

export function optionReader(read: OptionSource): OptionReader {
  const problems: string[] = [];
  function wrong(name: string, expectation: string, value: unknown): void {
    problems.push(`option ${name} must be ${expectation} (got ${shown(value)})`);
  }

  return {
    problems,
    integer(name, fallback, min, max) {
      const value = read(name) ?? fallback;
      if (
        type(value) !== "number" ||
        math.floor(value as number) !== value ||
        (value as number) < min ||
        (value as number) > max
      ) {
        wrong(name, `a whole number from ${min} to ${max}`, value);
        return fallback;
      }
      return value as number;
    },
    boolean(name, fallback) {
      const value = read(name) ?? fallback;
      if (type(value) === "boolean") return value as boolean;
      wrong(name, "true or false", value);
      return fallback;
    },
    string(name) {
      const value = read(name);
      if (value === undefined || type(value) === "string") return value as string | undefined;
      wrong(name, "a string", value);
      return undefined;
    },
    choice(name, choices, fallback) {
      const value = read(name) ?? fallback;
      for (const choice of choices) {
        if (value === choice) return choice;
      }
      wrong(name, `one of ${choices.join(", ")}`, value);
      return fallback;
    },
    list(name, fallback) {
      const value = read(name) ?? fallback;
      if (type(value) === "string") return [value as string];
      if (type(value) !== "table") {
        wrong(name, "a list of strings", value);
        return fallback;
      }
      const list: string[] = [];
      for (const item of value as unknown[]) {
        if (type(item) !== "string") {
          wrong(name, "a list of strings", item);
          return fallback;
        }
        list.push(item as string);
      }
      return list;
    },
    refuse(problem) {
      problems.push(problem);
    },
  };
}
