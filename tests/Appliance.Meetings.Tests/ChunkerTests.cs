using Appliance.Meetings;

namespace Appliance.Meetings.Tests;

public sealed class ChunkerTests
{
    private static int Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public void Chunks_respect_the_token_limit_and_overlap()
    {
        var sentences = Enumerable.Range(0, 40).Select(i => $"Sentence number {i} talks about item {i} at some length.").ToList();
        var chunks = TranscriptChunker.Chunk(string.Join(' ', sentences), maxTokens: 50, overlapTokens: 12, Words);

        Assert.True(chunks.Count > 1);
        Assert.All(chunks, c => Assert.InRange(Words(c), 1, 50));
        for (var i = 1; i < chunks.Count; i++)
        {
            var lastOfPrevious = TextOfLastSentence(chunks[i - 1]);
            Assert.StartsWith(lastOfPrevious, chunks[i], StringComparison.Ordinal);
        }

        // Every sentence appears, in order.
        var joined = string.Join(' ', chunks);
        var position = 0;
        foreach (var sentence in sentences)
        {
            position = joined.IndexOf(sentence, position, StringComparison.Ordinal);
            Assert.True(position >= 0, sentence);
        }
    }

    [Fact]
    public void A_sentence_longer_than_the_limit_is_split_between_words()
    {
        var text = string.Join(' ', Enumerable.Range(0, 25).Select(i => $"w{i}")) + ".";
        var chunks = TranscriptChunker.Chunk(text, maxTokens: 10, overlapTokens: 0, Words);
        Assert.Equal([10, 10, 5], chunks.Select(Words));
        Assert.Equal(text, string.Join(' ', chunks));
    }

    [Fact]
    public void Invalid_limits_are_bugs()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TranscriptChunker.Chunk("a", 0, 0, Words));
        Assert.Throws<ArgumentOutOfRangeException>(() => TranscriptChunker.Chunk("a", 5, 5, Words));
    }

    private static string TextOfLastSentence(string chunk)
    {
        var start = chunk.LastIndexOf("Sentence number", StringComparison.Ordinal);
        return chunk[start..];
    }
}
