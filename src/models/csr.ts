/**
 * Compressed sparse rows: the shape of every user–item matrix in the numeric code. Row r's
 * column indices are `indices[offsets[r] … offsets[r+1])`, sorted ascending, with the matching
 * `values` (when present).
 */
export interface Csr {
  rows: number;
  cols: number;
  offsets: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/**
 * Builds a CSR matrix from coordinate triples (no duplicate (row, col) pairs expected; if
 * present they are kept as separate entries). Columns within a row end up sorted.
 */
export function csrFromCoordinates(rows: number, cols: number, r: ArrayLike<number>, c: ArrayLike<number>, v?: ArrayLike<number>): Csr {
  const nnz = r.length;
  const offsets = new Int32Array(rows + 1);
  for (let n = 0; n < nnz; n++) offsets[r[n] + 1]++;
  for (let i = 0; i < rows; i++) offsets[i + 1] += offsets[i];
  const fill = offsets.slice(0, rows);
  const indices = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  // Counting sort by column first, so that rows are filled in column order (stable, O(nnz)).
  const byCol = new Int32Array(nnz);
  const colStart = new Int32Array(cols + 1);
  for (let n = 0; n < nnz; n++) colStart[c[n] + 1]++;
  for (let j = 0; j < cols; j++) colStart[j + 1] += colStart[j];
  for (let n = 0; n < nnz; n++) byCol[colStart[c[n]]++] = n;
  for (let t = 0; t < nnz; t++) {
    const n = byCol[t];
    const p = fill[r[n]]++;
    indices[p] = c[n];
    values[p] = v ? v[n] : 1;
  }
  return { rows, cols, offsets, indices, values };
}

export function transpose(m: Csr): Csr {
  const nnz = m.indices.length;
  const offsets = new Int32Array(m.cols + 1);
  for (let n = 0; n < nnz; n++) offsets[m.indices[n] + 1]++;
  for (let j = 0; j < m.cols; j++) offsets[j + 1] += offsets[j];
  const fill = offsets.slice(0, m.cols);
  const indices = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.offsets[r]; p < m.offsets[r + 1]; p++) {
      const q = fill[m.indices[p]]++;
      indices[q] = r;
      values[q] = m.values[p];
    }
  }
  return { rows: m.cols, cols: m.rows, offsets, indices, values };
}

/** Size of the intersection of two ascending index lists. */
export function intersectionSize(a: Int32Array, aStart: number, aEnd: number, b: Int32Array, bStart: number, bEnd: number): number {
  let i = aStart;
  let j = bStart;
  let n = 0;
  while (i < aEnd && j < bEnd) {
    const x = a[i];
    const y = b[j];
    if (x === y) {
      n++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return n;
}

/** Merges repeated (row, col) entries of rows with sorted columns, summing their values. */
export function mergeDuplicates(m: Csr): Csr {
  const offsets = new Int32Array(m.rows + 1);
  const indices = new Int32Array(m.indices.length);
  const values = new Float64Array(m.indices.length);
  let n = 0;
  for (let r = 0; r < m.rows; r++) {
    const start = n;
    for (let p = m.offsets[r]; p < m.offsets[r + 1]; p++) {
      if (n > start && indices[n - 1] === m.indices[p]) values[n - 1] += m.values[p];
      else {
        indices[n] = m.indices[p];
        values[n] = m.values[p];
        n++;
      }
    }
    offsets[r + 1] = n;
  }
  return { rows: m.rows, cols: m.cols, offsets, indices: indices.slice(0, n), values: values.slice(0, n) };
}
