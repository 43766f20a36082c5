/* elementwise.cl — element-wise arithmetic on float buffers addressed by (buffer, offset). */

/* y[i] = a * x[i] + b * y[i], i < n. */
__kernel void axpby(__global float *y, ulong y_off, __global const float *x, ulong x_off,
                    ulong n, float a, float b)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    y[y_off + i] = a * x[x_off + i] + b * y[y_off + i];
}

/* y[i] = a * y[i], i < n. */
__kernel void scale(__global float *y, ulong y_off, ulong n, float a)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    y[y_off + i] = a * y[y_off + i];
}
