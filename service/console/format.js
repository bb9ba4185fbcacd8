// How values read: money in Indian digit grouping with ₹ (₹12,34,567.50), formatted from the
// API's decimal string itself; an amount is never parsed into a float.

/** Groups the digits of a whole number the Indian way: 1234567 → 12,34,567. */
export function groupIndian(digits) {
  const whole = digits.replace(/^0+(?=\d)/, '');
  if (whole.length <= 3) return whole;
  let rest = whole.slice(0, -3);
  const parts = [];
  while (rest.length > 2) {
    parts.unshift(rest.slice(-2));
    rest = rest.slice(0, -2);
  }
  if (rest) parts.unshift(rest);
  return `${parts.join(',')},${whole.slice(-3)}`;
}

/** `"1234567.5"` → `₹12,34,567.50`; keeps every digit the API sent (at least two decimals). */
export function rupees(value) {
  if (value === null || value === undefined || value === '') return '—';
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(value).trim());
  if (!m) return String(value);
  const [, sign, whole, frac = ''] = m;
  const decimals = frac.length >= 2 ? frac : (frac + '00').slice(0, 2);
  return `${sign}₹${groupIndian(whole)}.${decimals}`;
}

/** A count with Indian grouping: 100000 → 1,00,000. */
export function count(n) {
  if (n === null || n === undefined) return '—';
  const s = String(n);
  return /^\d+$/.test(s) ? groupIndian(s) : s;
}

/** An RFC 3339 timestamp as the reader's local date and time. */
export function when(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  return d.toLocaleString('en-IN', { dateStyle: 'medium', timeStyle: 'short' });
}

/** The period before this month's, `YYYY-MM`: what HR usually pays, when the org has no run to
 * start from (`defaultPeriod` in api.js asks the service first). */
export function lastPeriod(now = new Date()) {
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

/** Whether a worker's explain component is money (as opposed to a flag). */
export function isMoneyCategory(category) {
  return ['earning', 'deduction', 'employer', 'total', 'net', 'statutory', 'reimbursement'].includes(category);
}
