using System.Buffers.Binary;
using System.Device.I2c;
using System.IO;

namespace Appliance.Hardware;

/// <summary>
/// An SHT3x temperature and humidity sensor on a simulated I2C bus: it answers the chip's commands
/// (single-shot measurement, soft reset, heater, status) with frames the real binding decodes, CRC-8
/// included. Readings drift like a real cabinet (a mean-reverting random walk) and, at the configured rate,
/// a frame arrives with a corrupted checksum, as on a noisy bus. Deterministic for a given seed.
/// Thread-safe.
/// </summary>
public sealed class SimulatedSht3x : I2cDevice
{
    private readonly Lock _gate = new();
    private readonly Random _random;
    private readonly double _checksumFailureRate;
    private readonly double _baseTemperature;
    private readonly double _baseHumidity;
    private double _temperature;
    private double _humidity;
    private byte[] _pendingRead = [];

    /// <summary>Creates the chip; readings start at the base values.</summary>
    /// <param name="settings">The bus number and 7-bit address the chip answers as, returned by <see cref="ConnectionSettings"/>.</param>
    /// <param name="baseTemperatureC">The temperature, in °C, the readings start at and drift around.</param>
    /// <param name="baseHumidityPercent">The relative humidity, in %RH, the readings start at and drift around.</param>
    /// <param name="checksumFailureRate">The share of measurement frames, 0 to 1, sent with one CRC-8 bit flipped.</param>
    /// <param name="seed">The seed of the drift and corruption; the same seed gives the same frames.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="checksumFailureRate"/> is outside 0 to 1.</exception>
    public SimulatedSht3x(I2cConnectionSettings settings, double baseTemperatureC, double baseHumidityPercent, double checksumFailureRate, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(checksumFailureRate, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(checksumFailureRate, 1);
        ConnectionSettings = settings;
        _random = new Random(seed);
        _checksumFailureRate = checksumFailureRate;
        _baseTemperature = _temperature = baseTemperatureC;
        _baseHumidity = _humidity = baseHumidityPercent;
    }

    /// <summary>The bus number and address given to the constructor.</summary>
    public override I2cConnectionSettings ConnectionSettings { get; }

    /// <summary>Frames sent with a corrupted checksum so far.</summary>
    public int CorruptedFrames { get; private set; }

    /// <summary>Whether the on-chip heater is on.</summary>
    public bool HeaterOn { get; private set; }

    /// <summary>The true values behind the last measurement frame (what an ideal sensor would report).</summary>
    public (double TemperatureC, double HumidityPercent) LastTruth { get; private set; }

    /// <summary>Sends one two-byte command: any single-shot measurement, soft reset (0x30A2), heater on (0x306D) or off (0x3066), or read status (0xF32D).</summary>
    /// <param name="buffer">The command, most significant byte first.</param>
    /// <exception cref="IOException">The chip does not acknowledge: the command is not two bytes or not one it knows.</exception>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length != 2)
        {
            throw new IOException($"SHT3x NACK: commands are two bytes, got {buffer.Length}.");
        }

        var command = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        lock (_gate)
        {
            switch (command)
            {
                case 0x2C06 or 0x2C0D or 0x2C10 or 0x2400 or 0x240B or 0x2416:
                    _pendingRead = Measure();
                    break;
                case 0x30A2:
                    HeaterOn = false;
                    _pendingRead = [];
                    break;
                case 0x306D:
                    HeaterOn = true;
                    break;
                case 0x3066:
                    HeaterOn = false;
                    break;
                case 0xF32D:
                    var status = (ushort)(HeaterOn ? 0x2000 : 0x0000);
                    _pendingRead = [(byte)(status >> 8), (byte)status, Sht3xProtocol.Crc8((byte)(status >> 8), (byte)status)];
                    break;
                default:
                    throw new IOException($"SHT3x NACK: unknown command 0x{command:X4}.");
            }
        }
    }

    /// <summary>Reads the pending frame (six bytes after a measurement, three after a status command) and clears it; bytes past its end read 0xFF.</summary>
    /// <param name="buffer">Receives the frame.</param>
    /// <exception cref="IOException">No frame is pending: nothing was measured or asked since the last read, or a soft reset cleared it.</exception>
    public override void Read(Span<byte> buffer)
    {
        lock (_gate)
        {
            if (_pendingRead.Length == 0)
            {
                throw new IOException("SHT3x NACK: no measurement pending.");
            }

            var count = Math.Min(buffer.Length, _pendingRead.Length);
            _pendingRead.AsSpan(0, count).CopyTo(buffer);
            buffer[count..].Fill(0xFF);
            _pendingRead = [];
        }
    }

    /// <summary>A <see cref="Write"/> followed by a <see cref="Read"/>.</summary>
    /// <param name="writeBuffer">The two-byte command.</param>
    /// <param name="readBuffer">Receives the frame.</param>
    /// <exception cref="IOException">The chip does not acknowledge the command, or no frame is pending after it.</exception>
    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        Write(writeBuffer);
        Read(readBuffer);
    }

    private byte[] Measure()
    {
        _temperature += (_random.NextDouble() - 0.5) * 0.2 + 0.05 * (_baseTemperature - _temperature) + (HeaterOn ? 0.1 : 0);
        _humidity = Math.Clamp(_humidity + (_random.NextDouble() - 0.5) * 0.8 + 0.05 * (_baseHumidity - _humidity), 0, 100);
        var rawT = Sht3xProtocol.RawFromTemperature(_temperature);
        var rawH = Sht3xProtocol.RawFromHumidity(_humidity);
        LastTruth = (Sht3xProtocol.TemperatureFromRaw(rawT), Sht3xProtocol.HumidityFromRaw(rawH));
        byte[] frame = [(byte)(rawT >> 8), (byte)rawT, 0, (byte)(rawH >> 8), (byte)rawH, 0];
        frame[2] = Sht3xProtocol.Crc8(frame[0], frame[1]);
        frame[5] = Sht3xProtocol.Crc8(frame[3], frame[4]);
        if (_random.NextDouble() < _checksumFailureRate)
        {
            frame[_random.Next(2) == 0 ? 2 : 5] ^= (byte)(1 << _random.Next(8));
            CorruptedFrames++;
        }

        return frame;
    }
}
