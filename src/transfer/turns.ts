// Turns at something that runs on this process's one thread: at most `limit`
// at once, the others waiting in order. Decoding a streamed base64 body is
// such a thing (JSON tokenizing and decoding are CPU, not I/O): eight bodies
// decoded at once finish no sooner than two at a time, but hold four times
// the memory (their part buffers and strings in flight). A turn waited for
// longer than `patienceMs` is taken anyway, so that bodies that come slowly
// (a client trickling its text) delay the others by that much at most and
// never shut them out.
export class Turns {
  private running = 0
  private readonly waiting: Array<(handedOver: boolean) => void> = []
  /** turns taken without waiting for one (the patience ran out) */
  overdrawn = 0

  constructor (readonly limit: number, private readonly patienceMs: number) {
    if (!(limit >= 1)) throw new RangeError(`Turns: at least one at once, not ${limit}`)
  }

  get active (): number { return this.running }

  /** wait for a turn (at most patienceMs, or until `signal` aborts); call the answer once done */
  async take (signal?: AbortSignal): Promise<() => void> {
    if (this.running < this.limit && this.waiting.length === 0) {
      this.running++
      return this.release()
    }
    await new Promise<void>((resolve) => {
      // handed over: the turn of the one that ended; else one more than the limit
      const go = (handedOver: boolean): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', gone)
        const at = this.waiting.indexOf(go)
        if (at !== -1) this.waiting.splice(at, 1)
        if (!handedOver) this.running++
        resolve()
      }
      const gone = (): void => { go(false) }
      const timer = setTimeout(() => {
        this.overdrawn++
        go(false)
      }, this.patienceMs)
      signal?.addEventListener('abort', gone, { once: true })
      this.waiting.push(go)
    })
    return this.release()
  }

  private release (): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      const next = this.waiting[0]
      // over the limit (turns overdrawn): the turn ends here instead of going on
      if (next !== undefined && this.running <= this.limit) next(true)
      else this.running--
    }
  }
}
