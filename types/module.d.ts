/** @noSelfInFile */
interface ProsodyModule {
  add_feature(this: ProsodyModule, feature: string): void;
  log(this: ProsodyModule, level: string, message: string, ...args: unknown[]): void;
}
declare const module: ProsodyModule;
