/* conv.cl — 2-D convolution helpers around the GEMM: im2col, its deterministic adjoint col2im
 * (gather, no atomics), layout permutes with bias, and the bias gradient. */
#include "reduce.clh"

/* Geometry of a chunk of nc samples: x [N, CIN, H, W], kernel [KH, KW], output [Ho, Wo],
 * P = Ho·Wo, K = CIN·KH·KW; columns are q = nl·P + oy·Wo + ox (nl < nc). */

/* cols[k, q] = x[n0 + nl, ci, oy·sh − ph + i, ox·sw − pw + j] (0 outside the image),
 * k = (ci·KH + i)·KW + j.  cols: [K, nc·P]; one work-item per element. */
__kernel void conv2d_im2col(__global float *cols, ulong cols_off, __global const float *x,
                            ulong x_off, ulong n0, ulong nc, ulong cin, ulong h, ulong w, ulong kh,
                            ulong kw, ulong sh, ulong sw, ulong ph, ulong pw, ulong ho, ulong wo)
{
    ulong g = get_global_id(0);
    ulong P = ho * wo, ncp = nc * P, K = cin * kh * kw;
    if (g >= K * ncp)
        return;
    ulong k = g / ncp, q = g - k * ncp;
    ulong nl = q / P, p = q - nl * P;
    ulong oy = p / wo, ox = p - oy * wo;
    ulong ci = k / (kh * kw), r = k - ci * kh * kw;
    ulong i = r / kw, j = r - i * kw;
    long iy = (long)(oy * sh + i) - (long)ph, ix = (long)(ox * sw + j) - (long)pw;
    float v = 0.0f;
    if (iy >= 0 && iy < (long)h && ix >= 0 && ix < (long)w)
        v = x[x_off + (((n0 + nl) * cin + ci) * h + (ulong)iy) * w + (ulong)ix];
    cols[cols_off + g] = v;
}

/* gx[n0 + nl, ci, y, xx] = Σ_{i, j} gcols[(ci·KH + i)·KW + j, nl·P + oy·Wo + ox] over the (i, j)
 * with y = oy·sh − ph + i, xx = ox·sw − pw + j inside the output, i then j ascending (fixed
 * order).  gcols: [K, nc·P]; gx: [N, CIN, H, W], written (not accumulated); one work-item per
 * element of the chunk. */
__kernel void conv2d_col2im(__global float *gx, ulong gx_off, __global const float *gcols,
                            ulong gcols_off, ulong n0, ulong nc, ulong cin, ulong h, ulong w,
                            ulong kh, ulong kw, ulong sh, ulong sw, ulong ph, ulong pw, ulong ho,
                            ulong wo)
{
    ulong g = get_global_id(0);
    if (g >= nc * cin * h * w)
        return;
    ulong P = ho * wo, ncp = nc * P;
    ulong xx = g % w, t = g / w;
    ulong y = t % h;
    t /= h;
    ulong ci = t % cin, nl = t / cin;
    float s = 0.0f;
    for (ulong i = 0; i < kh; i++) {
        long ty = (long)(y + ph) - (long)i;
        if (ty < 0 || ty % (long)sh != 0)
            continue;
        ulong oy = (ulong)ty / sh;
        if (oy >= ho)
            continue;
        for (ulong j = 0; j < kw; j++) {
            long tx = (long)(xx + pw) - (long)j;
            if (tx < 0 || tx % (long)sw != 0)
                continue;
            ulong ox = (ulong)tx / sw;
            if (ox >= wo)
                continue;
            s += gcols[gcols_off + ((ci * kh + i) * kw + j) * ncp + nl * P + oy * wo + ox];
        }
    }
    gx[gx_off + ((n0 + nl) * cin + ci) * h * w + y * w + xx] = s;
}

/* y[n0 + nl, co, p] = tmp[co, nl·P + p] + (has_bias ? b[co] : 0).
 * tmp: [COUT, nc·P]; y: [N, COUT, P]; b: [COUT]; one work-item per element of the chunk. */
__kernel void conv2d_out_fwd(__global float *y, ulong y_off, __global const float *tmp,
                             ulong tmp_off, __global const float *b, ulong b_off, int has_bias,
                             ulong n0, ulong nc, ulong cout, ulong P)
{
    ulong g = get_global_id(0);
    if (g >= nc * cout * P)
        return;
    ulong p = g % P, t = g / P;
    ulong co = t % cout, nl = t / cout;
    float v = tmp[tmp_off + co * nc * P + nl * P + p];
    if (has_bias)
        v += b[b_off + co];
    y[y_off + n0 * cout * P + g] = v;
}

/* gperm[co, nl·P + p] = gy[n0 + nl, co, p].
 * gy: [N, COUT, P]; gperm: [COUT, nc·P]; one work-item per element of gperm. */
__kernel void conv2d_gout_bwd(__global float *gperm, ulong gperm_off, __global const float *gy,
                              ulong gy_off, ulong n0, ulong nc, ulong cout, ulong P)
{
    ulong g = get_global_id(0);
    ulong ncp = nc * P;
    if (g >= cout * ncp)
        return;
    ulong co = g / ncp, q = g - co * ncp;
    ulong nl = q / P, p = q - nl * P;
    gperm[gperm_off + g] = gy[gy_off + ((n0 + nl) * cout + co) * P + p];
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
    for (ulong e = get_local_id(0); e < m; e += RED_WG) {
        ulong i = e / P;
        s += gy[gy_off + (i * cout + co) * P + (e - i * P)];
    }
    s = wg_sum(scratch, s);
    if (get_local_id(0) == 0)
        gb[gb_off + co] = s;
}
