/* shape.cl — time-step repeat and mean on time-major tensors, residual add and the SEW
 * connect functions, forward and backward. m is the size of one time step (B·C·H·W). */

/* y[t·m + i] = x[i] for t < T, i < m. Dimension 0 runs over i, dimension 1 over t: no division
 * per element. */
__kernel void repeat_time_fwd(__global float *y, ulong y_off,       /* [T·B, ...] */
                              __global const float *x, ulong x_off, /* [B, ...] */
                              ulong m, uint T)
{
    ulong i = get_global_id(0);
    uint t = (uint)get_global_id(1);
    if (i >= m || t >= T)
        return;
    y[y_off + (ulong)t * m + i] = x[x_off + i];
}

/* gx[i] = Σ_{t=0..T-1} gy[t·m + i], in order of t. One work-item per element of gx. */
__kernel void repeat_time_bwd(__global float *gx, ulong gx_off,      /* [B, ...] */
                              __global const float *gy, ulong gy_off, /* [T·B, ...] */
                              ulong m, uint T)
{
    ulong i = get_global_id(0);
    if (i >= m)
        return;
    float sum = 0.0f;
    for (uint t = 0; t < T; t++)
        sum += gy[gy_off + (ulong)t * m + i];
    gx[gx_off + i] = sum;
}

/* y[i] = (1/T)·Σ_{t=0..T-1} x[t·m + i], summed in order of t, then divided by T. */
__kernel void mean_time_fwd(__global float *y, ulong y_off,       /* [B, ...] */
                            __global const float *x, ulong x_off, /* [T·B, ...] */
                            ulong m, uint T)
{
    ulong i = get_global_id(0);
    if (i >= m)
        return;
    float sum = 0.0f;
    for (uint t = 0; t < T; t++)
        sum += x[x_off + (ulong)t * m + i];
    y[y_off + i] = sum / (float)T;
}

/* gx[t·m + i] = gy[i] / T. Dimension 0 runs over i < m, dimension 1 over t < T. */
__kernel void mean_time_bwd(__global float *gx, ulong gx_off,      /* [T·B, ...] */
                            __global const float *gy, ulong gy_off, /* [B, ...] */
                            ulong m, uint T)
{
    ulong i = get_global_id(0);
    uint t = (uint)get_global_id(1);
    if (i >= m || t >= T)
        return;
    gx[gx_off + (ulong)t * m + i] = gy[gy_off + i] / (float)T;
}

/* y = a + b (residual add, SEW ADD). */
__kernel void add_fwd(__global float *y, ulong y_off,       /* [N, ...] */
                      __global const float *a, ulong a_off, /* [N, ...] */
                      __global const float *b, ulong b_off, /* [N, ...] */
                      ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    y[y_off + i] = a[a_off + i] + b[b_off + i];
}

/* ga = gy, gb = gy. */
__kernel void add_bwd(__global float *ga, ulong ga_off,       /* [N, ...] */
                      __global float *gb, ulong gb_off,       /* [N, ...] */
                      __global const float *gy, ulong gy_off, /* [N, ...] */
                      ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float g = gy[gy_off + i];
    ga[ga_off + i] = g;
    gb[gb_off + i] = g;
}

/* SEW AND: y = out·id. */
__kernel void sew_and_fwd(__global float *y, ulong y_off,          /* [N, ...] */
                          __global const float *o, ulong o_off,    /* [N, ...] block output */
                          __global const float *id, ulong id_off,  /* [N, ...] identity */
                          ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    y[y_off + i] = o[o_off + i] * id[id_off + i];
}

/* SEW AND backward: g_out = gy·id, g_id = gy·out. */
__kernel void sew_and_bwd(__global float *go, ulong go_off,        /* [N, ...] */
                          __global float *gid, ulong gid_off,      /* [N, ...] */
                          __global const float *o, ulong o_off,    /* [N, ...] */
                          __global const float *id, ulong id_off,  /* [N, ...] */
                          __global const float *gy, ulong gy_off,  /* [N, ...] */
                          ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float g = gy[gy_off + i], ov = o[o_off + i], iv = id[id_off + i];
    go[go_off + i] = g * iv;
    gid[gid_off + i] = g * ov;
}

/* SEW IAND: y = id·(1 - out). */
__kernel void sew_iand_fwd(__global float *y, ulong y_off,         /* [N, ...] */
                           __global const float *o, ulong o_off,   /* [N, ...] block output */
                           __global const float *id, ulong id_off, /* [N, ...] identity */
                           ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    y[y_off + i] = id[id_off + i] * (1.0f - o[o_off + i]);
}

/* SEW IAND backward: g_out = -gy·id, g_id = gy·(1 - out). */
__kernel void sew_iand_bwd(__global float *go, ulong go_off,       /* [N, ...] */
                           __global float *gid, ulong gid_off,     /* [N, ...] */
                           __global const float *o, ulong o_off,   /* [N, ...] */
                           __global const float *id, ulong id_off, /* [N, ...] */
                           __global const float *gy, ulong gy_off, /* [N, ...] */
                           ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float g = gy[gy_off + i], ov = o[o_off + i], iv = id[id_off + i];
    go[go_off + i] = -(g * iv);
    gid[gid_off + i] = g * (1.0f - ov);
}
