import type { Rng } from './random.js';
import { pick } from './random.js';

/*
 * Text that real Harvest accounts contain and naive connectors break on: accents, CJK, RTL,
 * emoji with joiners, quotes, backslashes, SQL-looking strings, strings that read "null",
 * newlines and tabs. Never NUL: Harvest does not store it and PostgreSQL text cannot hold it.
 */

export const AWKWARD_NOTES: readonly string[] = [
  'Homepage wireframes',
  'Weekly sync with the client',
  'Bug triage and release notes',
  'Réunion de suivi — révision du cahier des charges',
  'Überarbeitung der Startseite (Größe & Maße)',
  '会議の準備と議事録の作成',
  'Проверка отчёта за квартал',
  'مراجعة التصميم مع العميل',
  'Deployed 🚀 and celebrated 🎉',
  '👩🏽‍💻 pair programming with 🧑‍🤝‍🧑 the team',
  'Fixed the "quoted" issue in the \'legacy\' importer',
  "Robert'); DROP TABLE time_entries;--",
  '1; DELETE FROM invoices WHERE 1=1 --',
  'Line one\nLine two\n\tindented line three',
  'Backslash \\ slash / percent 100% underscore _ dollar $1',
  'NULL',
  'null',
  'Zero\u200bwidth and non\u00a0breaking spaces',
  'Ends with an emoji 🙂',
  '<b>not html</b> & <script>alert(1)</script>',
];

export const FIRST_NAMES: readonly string[] = [
  'Sam',
  'Lee',
  'Zoë',
  'José',
  'Siobhán',
  'Ingrid',
  'Nguyễn',
  'Aarav',
  'Fatima',
  'Łukasz',
  'Chloé',
  'Björn',
  'Mei',
  'Olu',
  'Dmitri',
  'Ana María',
];

export const LAST_NAMES: readonly string[] = [
  'Rivera',
  'Chen',
  "O'Brien",
  'Núñez',
  'Ångström',
  'Müller',
  'Tanaka 田中',
  'Okafor',
  'Kowalski',
  'Smith-Jones',
  'van der Berg',
  'Al-Sayed',
  'Dupont',
  'Schrödinger',
];

export const CLIENT_NAMES: readonly string[] = [
  'Acme Widgets',
  'Northwind Traders',
  'Globex Ltd',
  'Initech',
  "Société Générale d'Ingénierie",
  'Müller & Söhne GmbH',
  '株式会社サンプル',
  'O\'Reilly "Quoted" Partners',
  'Bobby Tables; DROP TABLE clients;--',
  'Café ☕ Collective',
  'Umbrella Corp.',
  'Stark Industries',
];

export const PROJECT_NAMES: readonly string[] = [
  'Website Refresh',
  'Mobile App',
  'Data Migration',
  '🚀 Launch Campaign',
  'Brand "Evolution"',
  'Intranet (v2)',
  'Infrastructure & Ops',
  'Rédaction technique',
  'Support retainer',
  'API Integration',
];

export const TASK_NAMES: readonly string[] = [
  'Design',
  'Development',
  'Project Management',
  'Meetings 🗓️',
  'QA & "Testing"',
  'Internal admin',
  'Research',
  'Copywriting',
  'Travel',
  'Übersetzung',
];

export const ADDRESSES: readonly string[] = [
  '1 Harbour Rd\nPortsmouth',
  '221B Baker Street\nLondon NW1 6XE\nUnited Kingdom',
  'Königstraße 12, 70173 Stuttgart',
  '〒100-0001 東京都千代田区千代田1-1',
  '500 "Quoted" Ave, Suite #5',
];

export const TIMEZONES: readonly string[] = [
  'Eastern Time (US & Canada)',
  'Pacific Time (US & Canada)',
  'London',
  'Berlin',
  'Tokyo',
  'Sydney',
];

export const CURRENCIES: readonly string[] = ['USD', 'USD', 'EUR', 'GBP', 'CAD', 'JPY', 'DKK'];

/** Notes drawn the way real data spreads them: mostly short, some null, some "", rarely tens of KB. */
export function notes(r: Rng, longEvery: number): string | null {
  const x = r();
  if (x < 0.15) return null;
  if (x < 0.22) return '';
  if (x < 0.22 + 1 / longEvery) return longText(r);
  return pick(r, AWKWARD_NOTES);
}

/** 20–60 KB of mixed-script text: tests that nothing truncates long text. */
export function longText(r: Rng): string {
  const target = 20_000 + Math.floor(r() * 40_000);
  const parts: string[] = [];
  let length = 0;
  while (length < target) {
    const part = pick(r, AWKWARD_NOTES);
    parts.push(part);
    length += part.length + 1;
  }
  return parts.join(' ');
}
