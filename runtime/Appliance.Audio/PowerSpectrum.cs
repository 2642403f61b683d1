using System.Numerics;
using MathNet.Numerics.IntegralTransforms;

namespace Appliance.Audio;

/// <summary>
/// Power spectra |DFT|² of real frames of length N = P × Q (P a power of two, Q odd; Whisper's 400 = 16 × 25), in
/// double precision. Two real frames ride in one complex transform (one as the real part, one as the imaginary
/// part), split apart afterwards by conjugate symmetry. The complex transform is one Cooley–Tukey step: Q
/// power-of-two FFTs of length P (MathNet.Numerics), twiddles, then P direct DFTs of length Q from a precomputed
/// table. An instance holds scratch buffers: one per thread.
/// </summary>
internal sealed class PowerSpectrum
{
    private readonly int _length;
    private readonly int _p;
    private readonly int _q;
    private readonly Complex[] _twiddles; // [n1 × P + k2] = exp(-2πi n1 k2 / N)
    private readonly double[] _cosQ; // exp(-2πi m / Q) = cosQ[m] - i sinQ[m]
    private readonly double[] _sinQ;
    private readonly Complex[] _inner; // Q rows of P
    private readonly Complex[] _spectrum; // N
    private readonly Complex[] _column; // one length-P FFT

    public PowerSpectrum(int length)
    {
        _length = length;
        _p = length & -length;
        _q = length / _p;
        _twiddles = new Complex[_q * _p];
        for (var n1 = 0; n1 < _q; n1++)
        {
            for (var k2 = 0; k2 < _p; k2++)
            {
                _twiddles[(n1 * _p) + k2] = Complex.FromPolarCoordinates(1, -2 * Math.PI * n1 * k2 / length);
            }
        }

        _cosQ = new double[_q];
        _sinQ = new double[_q];
        for (var m = 0; m < _q; m++)
        {
            _cosQ[m] = Math.Cos(2 * Math.PI * m / _q);
            _sinQ[m] = Math.Sin(2 * Math.PI * m / _q);
        }

        _inner = new Complex[_q * _p];
        _spectrum = new Complex[length];
        _column = new Complex[_p];
    }

    /// <summary>Bins in a one-sided spectrum, N / 2 + 1.</summary>
    public int Bins => (_length / 2) + 1;

    /// <summary>
    /// Writes the one-sided power spectra of <paramref name="a"/> and <paramref name="b"/> (each <c>N</c> windowed
    /// samples) to <paramref name="powerA"/> and <paramref name="powerB"/> (each <see cref="Bins"/> long).
    /// </summary>
    public void ComputePair(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<float> powerA, Span<float> powerB)
    {
        Transform(a, b);
        var z = _spectrum;
        for (var k = 0; k < Bins; k++)
        {
            var zk = z[k];
            var zm = z[(_length - k) % _length];
            // A[k] = (Z[k] + conj Z[N-k]) / 2, B[k] = (Z[k] - conj Z[N-k]) / 2i
            var ar = zk.Real + zm.Real;
            var ai = zk.Imaginary - zm.Imaginary;
            var br = zk.Imaginary + zm.Imaginary;
            var bi = zk.Real - zm.Real;
            powerA[k] = (float)(((ar * ar) + (ai * ai)) * 0.25);
            powerB[k] = (float)(((br * br) + (bi * bi)) * 0.25);
        }
    }

    /// <summary>DFT of a + i·b into <see cref="_spectrum"/>, with n = n1 + Q·n2 and k = k2 + P·k1.</summary>
    private void Transform(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        for (var n1 = 0; n1 < _q; n1++)
        {
            for (var n2 = 0; n2 < _p; n2++)
            {
                var n = n1 + (_q * n2);
                _column[n2] = new Complex(a[n], b[n]);
            }

            Fourier.Forward(_column, FourierOptions.NoScaling);
            var row = _inner.AsSpan(n1 * _p, _p);
            var twiddles = _twiddles.AsSpan(n1 * _p, _p);
            for (var k2 = 0; k2 < _p; k2++)
            {
                row[k2] = _column[k2] * twiddles[k2];
            }
        }

        for (var k2 = 0; k2 < _p; k2++)
        {
            for (var k1 = 0; k1 < _q; k1++)
            {
                double re = 0;
                double im = 0;
                var m = 0;
                for (var n1 = 0; n1 < _q; n1++)
                {
                    var x = _inner[(n1 * _p) + k2];
                    var c = _cosQ[m];
                    var s = _sinQ[m];
                    re += (x.Real * c) + (x.Imaginary * s);
                    im += (x.Imaginary * c) - (x.Real * s);
                    m += k1;
                    if (m >= _q)
                    {
                        m -= _q;
                    }
                }

                _spectrum[k2 + (_p * k1)] = new Complex(re, im);
            }
        }
    }
}
