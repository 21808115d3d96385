// lib/binding.ts declares the addon's whole surface once. Its runtime lists (ADDON_EXPORTS,
// HANDLE_MEMBERS) are tied to the types at compile time; here they are checked against the
// addon that really loads, so a function or member added, renamed or dropped in
// native/binding/*.cc without lib/binding.ts following fails.
import test from 'ava';
import { ADDON_EXPORTS, HANDLE_MEMBERS, binding } from '../lib/binding';

const sorted = (names: Iterable<string>): string[] => [...names].sort();
const addon = binding() as unknown as Record<string, unknown>;
const classNames = Object.keys(HANDLE_MEMBERS) as (keyof typeof HANDLE_MEMBERS)[];

test('the addon exports exactly the names lib/binding.ts declares', (t) => {
  t.deepEqual(sorted(Object.getOwnPropertyNames(addon)), sorted(ADDON_EXPORTS));
  t.is(new Set(ADDON_EXPORTS).size, ADDON_EXPORTS.length, 'ADDON_EXPORTS lists a name twice');
});

test('every declared handle class is an export, and every other export is a function of that name', (t) => {
  for (const name of classNames) t.true((ADDON_EXPORTS as readonly string[]).includes(name), `${name} is not in ADDON_EXPORTS`);
  for (const name of ADDON_EXPORTS) {
    const value = addon[name];
    t.is(typeof value, 'function', `${name}: expected a function or class`);
    if (!(classNames as readonly string[]).includes(name)) t.is((value as () => unknown).name, name);
  }
});

for (const name of classNames) {
  test(`${name}: the prototype's methods and getters, and the class's static methods, are those declared`, (t) => {
    const declared = HANDLE_MEMBERS[name];
    const cls = addon[name] as { prototype: object };
    const proto = cls.prototype;
    const own = Object.getOwnPropertyNames(proto).filter((k) => k !== 'constructor');
    t.deepEqual(sorted(own), sorted([...declared.methods, ...declared.getters]));
    for (const method of declared.methods) {
      const d = Object.getOwnPropertyDescriptor(proto, method)!;
      t.is(typeof d.value, 'function', `${name}.prototype.${method}: expected a method`);
    }
    for (const getter of declared.getters) {
      const d = Object.getOwnPropertyDescriptor(proto, getter)!;
      t.is(typeof d.get, 'function', `${name}.prototype.${getter}: expected a getter`);
      t.is(d.set, undefined, `${name}.prototype.${getter}: expected no setter`);
    }
    // What every (sloppy-mode, as native classes are) function owns besides its statics.
    const functionOwn = ['length', 'name', 'prototype', 'arguments', 'caller'];
    const statics = Object.getOwnPropertyNames(cls).filter((k) => !functionOwn.includes(k));
    t.deepEqual(sorted(statics), sorted(declared.statics));
    for (const s of declared.statics) t.is(typeof (cls as unknown as Record<string, unknown>)[s], 'function');
  });
}
