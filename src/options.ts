// Typed, validated reads of the module's options. Every check happens at load, so
// a wrong option stops the module with an error naming it, never at first use.
// Prosody 13's get_option_integer/_enum are not used: 0.12 lacks them and the
// messages should read the same on both.

/** Reads one option's raw value: module:get_option, or a table in specs. */
export type OptionSource = (this: void, name: string) => unknown;

function fail(name: string, expectation: string, value: unknown): never {
  const shown = type(value) === "string" ? `"${value as string}"` : tostring(value);
  return error(`option ${name} must be ${expectation} (got ${shown})`, 0);
}

export function integerOption(
  read: OptionSource,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = read(name) ?? fallback;
  if (type(value) !== "number" || math.floor(value as number) !== value) {
    return fail(name, `a whole number from ${min} to ${max}`, value);
  }
  const n = value as number;
  if (n < min || n > max) return fail(name, `a whole number from ${min} to ${max}`, value);
  return n;
}

export function booleanOption(read: OptionSource, name: string, fallback: boolean): boolean {
  const value = read(name) ?? fallback;
  if (type(value) !== "boolean") return fail(name, "true or false", value);
  return value as boolean;
}

export function stringOption(read: OptionSource, name: string): string | undefined {
  const value = read(name);
  if (value !== undefined && type(value) !== "string") return fail(name, "a string", value);
  return value as string | undefined;
}

export function choiceOption<T extends string>(
  read: OptionSource,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const value = read(name) ?? fallback;
  for (const choice of choices) {
    if (value === choice) return choice;
  }
  return fail(name, `one of ${choices.join(", ")}`, value);
}

/** A list of strings; a single string is accepted as a list of one. */
export function listOption(read: OptionSource, name: string, fallback: string[]): string[] {
  const value = read(name) ?? fallback;
  if (type(value) === "string") return [value as string];
  if (type(value) !== "table") return fail(name, "a list of strings", value);
  const list: string[] = [];
  for (const item of value as unknown[]) {
    if (type(item) !== "string") return fail(name, "a list of strings", item);
    list.push(item as string);
  }
  return list;
}
