// Turns: at most `limit` at once, the others in order; a wait longer than the
// patience goes ahead anyway; a waiter whose client is gone stops waiting.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Turns } from '../../src/transfer/turns.js'

describe('turns', () => {
  it('lets `limit` run at once and hands each ended turn to the next waiter, in order', async () => {
    const turns = new Turns(2, 10_000)
    const order: string[] = []
    const a = await turns.take()
    const b = await turns.take()
    const c = turns.take().then((done) => { order.push('c'); return done })
    const d = turns.take().then((done) => { order.push('d'); return done })
    await sleep(10)
    assert.deepEqual(order, [], 'two run: the others wait')
    assert.equal(turns.active, 2)
    a()
    a()
    const doneC = await c
    await sleep(10)
    assert.deepEqual(order, ['c'], 'one ended (its second done() is nothing): one more goes')
    b()
    const doneD = await d
    assert.deepEqual(order, ['c', 'd'])
    assert.equal(turns.active, 2)
    doneC()
    doneD()
    assert.equal(turns.active, 0)
    assert.equal(turns.overdrawn, 0)
    assert.throws(() => new Turns(0, 1), /at least one/)
  })

  it('a turn waited for longer than the patience is taken anyway, and the count comes back down', async () => {
    const turns = new Turns(1, 20)
    const first = await turns.take()
    const started = Date.now()
    const second = await turns.take()
    assert.ok(Date.now() - started >= 15, 'it waited for the patience')
    assert.equal(turns.overdrawn, 1)
    assert.equal(turns.active, 2)
    first()
    second()
    assert.equal(turns.active, 0)
    const third = await turns.take()
    assert.equal(turns.active, 1, 'the limit holds again')
    third()
  })

  it('a waiter whose signal aborts stops waiting', async () => {
    const turns = new Turns(1, 10_000)
    const first = await turns.take()
    const gone = new AbortController()
    const waiting = turns.take(gone.signal)
    gone.abort()
    const done = await waiting
    done()
    first()
    assert.equal(turns.active, 0)
  })
})
