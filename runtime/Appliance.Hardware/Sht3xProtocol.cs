namespace Appliance.Hardware;

/// <summary>Facts of the SHT3x datasheet shared by the driver and the simulated chip.</summary>
internal static class Sht3xProtocol
{
    /// <summary>Single-shot measurement, high repeatability, no clock stretching.</summary>
    public const ushort MeasureHighRepeatability = 0x2400;

    public static readonly TimeSpan ConversionTime = TimeSpan.FromMilliseconds(15);

    /// <summary>CRC-8 of one data word: polynomial 0x31, initial value 0xFF, no reflection, no final XOR.</summary>
    public static byte Crc8(byte msb, byte lsb)
    {
        byte crc = 0xFF;
        foreach (var b in (ReadOnlySpan<byte>)[msb, lsb])
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x80) != 0 ? (byte)((crc << 1) ^ 0x31) : (byte)(crc << 1);
            }
        }

        return crc;
    }

    public static double TemperatureFromRaw(int raw) => -45 + 175.0 * raw / 65535;

    public static double HumidityFromRaw(int raw) => 100.0 * raw / 65535;

    public static ushort RawFromTemperature(double celsius) => (ushort)Math.Clamp(Math.Round((celsius + 45) * 65535 / 175), 0, 65535);

    public static ushort RawFromHumidity(double percent) => (ushort)Math.Clamp(Math.Round(percent * 65535 / 100), 0, 65535);
}
