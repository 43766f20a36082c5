/* conv.cl — 2-D convolution helpers around the GEMM: im2col, its deterministic adjoint col2im
 * (gather, no atomics), layout permutes with bias, and the bias gradient. */
#include "reduce.clh"

/* Geometry of a chunk of nc samples: x [N, CIN, H, W], kernel [KH, KW], output [Ho, Wo],
 * P = Ho·Wo, K = CIN·KH·KW; columns are q = nl·P + oy·Wo + ox (nl < nc). Indices are split as
 * q = i / d, r = i − q·d, never as i / d and i % d (see pool.cl: oclgrind 21.10 stops there). */

/* cols[k, q] = x[n0 + nl, ci, oy·sh − ph + i, ox·sw − pw + j] (0 outside the image),
 * k = (ci·KH + i)·KW + j.  cols: [K, nc·P]; one work-item per row (k, nl, oy), looping over
 * ox: the index arithmetic (32-bit; the host keeps K·nc·P below 2^32) is paid once per row. */
__kernel void conv2d_im2col(__global float *cols, ulong cols_off, __global const float *x,
                            ulong x_off, ulong n0, ulong nc, ulong cin, ulong h, ulong w, ulong kh,
                            ulong kw, ulong sh, ulong sw, ulong ph, ulong pw, ulong ho, ulong wo)
{
    uint g = (uint)get_global_id(0);
    uint H0 = (uint)ho, W0 = (uint)wo, khw = (uint)(kh * kw), rows_per_k = (uint)nc * H0;
    if ((ulong)get_global_id(0) >= (ulong)cin * khw * rows_per_k)
        return;
    uint k = g / rows_per_k, t = g - k * rows_per_k;
    uint nl = t / H0, oy = t - nl * H0;
    uint ci = k / khw, r = k - ci * khw;
    uint i = r / (uint)kw, j = r - i * (uint)kw;
    int iy = (int)(oy * (uint)sh + i) - (int)ph;
    __global float *dst = cols + cols_off + (ulong)k * nc * H0 * W0 + (ulong)nl * H0 * W0 + oy * W0;
    if (iy < 0 || iy >= (int)h) {
        for (uint ox = 0; ox < W0; ox++)
            dst[ox] = 0.0f;
        return;
    }
    __global const float *src = x + x_off + ((n0 + nl) * cin + ci) * h * w + (ulong)iy * w;
    int ix = (int)j - (int)pw;
    for (uint ox = 0; ox < W0; ox++, ix += (int)sw)
        dst[ox] = ix >= 0 && ix < (int)w ? src[ix] : 0.0f;
}

/* gx[n0 + nl, ci, y, xx] = Σ_{i, j} gcols[(ci·KH + i)·KW + j, nl·P + oy·Wo + ox] over the (i, j)
 * with y = oy·sh − ph + i, xx = ox·sw − pw + j inside the output, i then j ascending (fixed
 * order).  gcols: [K, nc·P]; gx: [N, CIN, H, W], written (not accumulated); one work-item per
 * element of the chunk, as rows (nl, ci, y) of W.  The taps that hit an output are found without a
 * division per tap: along y, i runs over i ≡ y + ph (mod sh) from the first one with oy < Ho, oy
 * falling by one per step of sh (likewise j along x). */
__kernel void conv2d_col2im(__global float *gx, ulong gx_off, __global const float *gcols,
                            ulong gcols_off, ulong n0, ulong nc, ulong cin, ulong h, ulong w,
                            ulong kh, ulong kw, ulong sh, ulong sw, ulong ph, ulong pw, ulong ho,
                            ulong wo)
{
    /* Work-item (xx, row) of a [nc·CIN·H, W] grid; 32-bit index arithmetic: the host keeps
     * K·nc·P below 2^32. */
    if ((ulong)get_global_id(0) >= w || (ulong)get_global_id(1) >= nc * cin * h)
        return;
    uint xx = (uint)get_global_id(0), r = (uint)get_global_id(1), W = (uint)w, H = (uint)h;
    uint KH = (uint)kh, KW = (uint)kw, SH = (uint)sh, SW = (uint)sw, HO = (uint)ho, WO = (uint)wo;
    uint P = HO * WO, ncp = (uint)nc * P;
    uint t = r / H, y = r - t * H;
    uint nl = t / (uint)cin, ci = t - nl * (uint)cin;
    /* Rows: tap i reaches output row oy = (ay − i) / SH when SH divides ay − i, 0 <= oy < HO. */
    uint ay = y + (uint)ph, ax = xx + (uint)pw;
    uint oy0 = ay / SH, i0 = ay - oy0 * SH;
    if (oy0 >= HO) { /* skip taps whose output row is past the last one */
        uint skip = oy0 - (HO - 1);
        i0 += skip * SH;
        oy0 = HO - 1;
    }
    uint ox0 = ax / SW, j0 = ax - ox0 * SW;
    if (ox0 >= WO) {
        uint skip = ox0 - (WO - 1);
        j0 += skip * SW;
        ox0 = WO - 1;
    }
    __global const float *base = gcols + gcols_off + ci * KH * KW * ncp + nl * P;
    float s = 0.0f;
    for (uint i = i0, oy = oy0; i < KH && i <= ay; i += SH, oy--) {
        __global const float *row = base + i * KW * ncp + oy * WO;
        for (uint j = j0, ox = ox0; j < KW && j <= ax; j += SW, ox--)
            s += row[j * ncp + ox];
    }
    gx[gx_off + (n0 * cin * h + r) * w + xx] = s;
}

/* y[n0 + nl, co, p] = tmp[co, nl·P + p] + (has_bias ? b[co] : 0).
 * tmp: [COUT, nc·P]; y: [N, COUT, P]; b: [COUT]; work-item (p, row) of a [nc·COUT, P] grid,
 * row = nl·COUT + co. */
__kernel void conv2d_out_fwd(__global float *y, ulong y_off, __global const float *tmp,
                             ulong tmp_off, __global const float *b, ulong b_off, int has_bias,
                             ulong n0, ulong nc, ulong cout, ulong P)
{
    if ((ulong)get_global_id(0) >= P || (ulong)get_global_id(1) >= nc * cout)
        return;
    uint p = (uint)get_global_id(0), r = (uint)get_global_id(1);
    uint nl = r / (uint)cout, co = r - nl * (uint)cout;
    float v = tmp[tmp_off + (ulong)co * nc * P + (ulong)nl * P + p];
    if (has_bias)
        v += b[b_off + co];
    y[y_off + (n0 * cout + r) * P + p] = v;
}

/* gperm[co, nl·P + p] = gy[n0 + nl, co, p].
 * gy: [N, COUT, P]; gperm: [COUT, nc·P]; work-item (p, row) of a [COUT·nc, P] grid,
 * row = co·nc + nl. */
__kernel void conv2d_gout_bwd(__global float *gperm, ulong gperm_off, __global const float *gy,
                              ulong gy_off, ulong n0, ulong nc, ulong cout, ulong P)
{
    if ((ulong)get_global_id(0) >= P || (ulong)get_global_id(1) >= cout * nc)
        return;
    uint p = (uint)get_global_id(0), r = (uint)get_global_id(1);
    uint co = r / (uint)nc, nl = r - co * (uint)nc;
    gperm[gperm_off + (ulong)r * P + p] = gy[gy_off + ((n0 + nl) * cout + co) * P + p];
}

/* gb[co] = Σ_{n, p} gy[n, co, p]: one group of RED_WG work-items per channel co; work-item l
 * sums e = l, l + RED_WG, … (e = n·P + p) in order, then the fixed tree of wg_sum.
 * gy: [N, COUT, P]; gb: [COUT], written. */
__kernel void conv2d_bias_bwd(__global float *gb, ulong gb_off, __global const float *gy,
                              ulong gy_off, ulong n, ulong cout, ulong P)
{
    __local float scratch[RED_WG];
    ulong co = get_group_id(0);
    ulong m = n * P;
    float s = 0.0f;
    uint P32 = (uint)P;
    chan_pos q = chan_start(get_local_id(0), P32);
    for (ulong e = get_local_id(0); e < m; e += RED_WG, chan_next(&q, P32))
        s += gy[gy_off + (q.i * cout + co) * P + q.p];
    s = wg_sum(scratch, s);
    if (get_local_id(0) == 0)
        gb[gb_off + co] = s;
}

/* Split-K weight gradient: out[i] = (accumulate ? out[i] : 0) + Σ_{s<S} part[s·n + i], the
 * partial products of S slices of the reduction, summed in slice order. out, part slices: [n]. */
__kernel void conv2d_splitk_sum(__global float *out, ulong out_off, __global const float *part,
                                ulong part_off, ulong n, ulong S, int accumulate)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float acc = accumulate ? out[out_off + i] : 0.0f;
    for (ulong s = 0; s < S; s++)
        acc += part[part_off + s * n + i];
    out[out_off + i] = acc;
}

/* Element g of a [X, Y, KH, KW] tensor taken from a [Y, X, KH, KW] one with the two leading
 * dimensions swapped and the kernel flipped: dst[x, y, i, j] = src[y, x, KH − 1 − i, KW − 1 − j];
 * returns the index into src (32-bit: weights are far below 2^32 elements). */
uint flip_source(uint g, ulong X, ulong Y, ulong kh, ulong kw)
{
    uint KH = (uint)kh, KW = (uint)kw;
    uint t = g / KW, j = g - t * KW;
    uint u = t / KH, i = t - u * KH;
    uint x = u / (uint)Y, y = u - x * (uint)Y;
    return ((y * (uint)X + x) * KH + (KH - 1 - i)) * KW + (KW - 1 - j);
}

/* The weight of the data gradient of a stride-1 convolution, itself a convolution of the output
 * gradient: wt[ci, (co·KH + i)·KW + j] = w[co, ci, KH − 1 − i, KW − 1 − j] (flipped, input and
 * output channels swapped). w: [COUT, CIN, KH, KW]; wt: [CIN, COUT·KH·KW]; one work-item per
 * element. */
__kernel void conv2d_weight_flip(__global float *wt, ulong wt_off, __global const float *w,
                                 ulong w_off, ulong cout, ulong cin, ulong kh, ulong kw)
{
    if ((ulong)get_global_id(0) >= cout * cin * kh * kw)
        return;
    uint g = (uint)get_global_id(0);
    wt[wt_off + g] = w[w_off + flip_source(g, cin, cout, kh, kw)];
}

/* The weight gradient of a stride-1 convolution from partial products with the output
 * gradient's columns (see conv2d_weight_flip for the layout): part[s] = [CIN, COUT·KH·KW],
 *   w[co, ci, i, j] = (accumulate ? w[co, ci, i, j] : 0)
 *                     + Σ_{s<S} part[s][ci, (co·KH + KH − 1 − i)·KW + KW − 1 − j]
 * in slice order. w: [COUT, CIN, KH, KW]; one work-item per element. */
__kernel void conv2d_splitk_sum_flip(__global float *w, ulong w_off, __global const float *part,
                                     ulong part_off, ulong S, ulong cout, ulong cin, ulong kh,
                                     ulong kw, int accumulate)
{
    ulong n = cout * cin * kh * kw;
    if ((ulong)get_global_id(0) >= n)
        return;
    uint g = (uint)get_global_id(0);
    ulong src = part_off + flip_source(g, cout, cin, kh, kw);
    float acc = accumulate ? w[w_off + g] : 0.0f;
    for (ulong s = 0; s < S; s++)
        acc += part[src + s * n];
    w[w_off + g] = acc;
}
