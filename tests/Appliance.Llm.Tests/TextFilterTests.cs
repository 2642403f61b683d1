using System.Text;

namespace Appliance.Llm.Tests;

public sealed class TextFilterTests
{
    [Theory]
    [InlineData(new[] { "I think", " so</think>\n\nYes" }, "I think so", "Yes")]
    [InlineData(new[] { "a</", "thi", "nk>", "b" }, "a", "b")]
    [InlineData(new[] { "a<", "b</think>c" }, "a<b", "c")]
    [InlineData(new[] { "r", "</think>", "x<think>y</think>z" }, "ry", "xz")]
    public void SplitterSeparatesReasoningWhateverTheTokenBoundaries(string[] pieces, string reasoning, string answer)
    {
        var splitter = new ReasoningSplitter(startInReasoning: true);
        var r = new StringBuilder();
        var a = new StringBuilder();
        foreach (var piece in pieces)
        {
            splitter.Push(piece, r, a);
        }

        splitter.Flush(r, a);
        Assert.Equal(reasoning, r.ToString());
        Assert.Equal(answer, a.ToString());
    }

    [Fact]
    public void SplitterWithoutReasoningPassesPlainTextAndDropsStrayTags()
    {
        var splitter = new ReasoningSplitter(startInReasoning: false);
        var r = new StringBuilder();
        var a = new StringBuilder();
        splitter.Push("  hello</think> world <", r, a);
        splitter.Flush(r, a);
        Assert.Equal("", r.ToString());
        Assert.Equal("  hello world <", a.ToString());
    }

    [Fact]
    public void ForcedCloseTurnsHeldBackTextIntoReasoning()
    {
        var splitter = new ReasoningSplitter(startInReasoning: true);
        var r = new StringBuilder();
        var a = new StringBuilder();
        splitter.Push("hmm </th", r, a);
        splitter.CloseReasoning(r);
        splitter.Push("\n\nAnswer", r, a);
        Assert.Equal("hmm </th", r.ToString());
        Assert.Equal("Answer", a.ToString());
        Assert.False(splitter.InReasoning);
    }

    [Fact]
    public void StopFilterHoldsBackAPartialStopAndCutsAtTheFullOne()
    {
        var filter = new StopSequenceFilter(["END", "\n\n"]);
        Assert.Equal("abc ", filter.Push("abc E", out var stopped));
        Assert.False(stopped);
        Assert.Equal("", filter.Push("N", out stopped));
        Assert.Equal("ENx ", filter.Push("x E", out stopped));
        Assert.Equal("", filter.Push("ND more", out stopped));
        Assert.True(stopped);
    }

    [Fact]
    public void StopFilterReleasesHeldBackTextAtTheEnd()
    {
        var filter = new StopSequenceFilter(["stop"]);
        Assert.Equal("ok ", filter.Push("ok st", out _));
        Assert.Equal("st", filter.Flush());
    }
}
