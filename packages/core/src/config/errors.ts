// The error every bad option becomes, thrown at start-up (or by setStickiness), never on the request path.

export class StickyConfigError extends Error {
  /** The option's path, e.g. `stickiness.duration` or `backends[2].weight`. */
  readonly option: string;

  constructor(option: string, problem: string) {
    super(`stickyroute: option \`${option}\` ${problem}`);
    this.name = 'StickyConfigError';
    this.option = option;
  }
}
